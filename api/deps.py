"""Dependencies: the Redis client, the settings, and who is calling (scope rules enforced once, here)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from api.security import Principal, TokenError, read_access_token
from api.settings import Settings

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


# async on purpose: a plain ``def`` dependency costs a thread-pool hop per request (bench/api_orders.py: +32 % req/s)
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_redis(request: Request) -> Any:
    return request.app.state.redis


async def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in: send Authorization: Bearer <token> from POST /auth/token",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        return read_access_token(token, request.app.state.settings.jwt_secret)
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def role(*roles: str):  # noqa: ANN201 - a dependency factory
    """Only these roles (admin always passes)."""

    async def check(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}; you are {who.role}")
        return who

    return check


Redis = Annotated[Any, Depends(get_redis)]
Config = Annotated[Settings, Depends(get_settings)]
Caller = Annotated[Principal, Depends(current_principal)]
Customer = Annotated[Principal, Depends(role("customer"))]
CourierUser = Annotated[Principal, Depends(role("courier"))]
StoreUser = Annotated[Principal, Depends(role("store"))]
Planner = Annotated[Principal, Depends(role("planner"))]
Admin = Annotated[Principal, Depends(role("admin"))]
