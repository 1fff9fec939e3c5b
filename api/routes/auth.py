"""Sign-in (OAuth2 password flow), customer registration, and user creation by an admin."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from api.city import user_key
from api.deps import Admin, Config, Redis
from api.models import Register, TokenOut, UserCreate
from api.orders import audit
from api.security import Principal, access_token, hash_password, verify_password
from api.throttle import SignInThrottle, Throttled

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, operation_id="sign_in",
             responses={429: {"description": "too many failed sign-ins for the account or the address; see Retry-After"}})
async def sign_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, r: Redis, cfg: Config) -> TokenOut:
    """Exchange a user name and password for a bearer token (form fields ``username``, ``password``).

    After ``SIGNIN_ACCOUNT_FAILURES`` failures of an account (or ``SIGNIN_ADDRESS_FAILURES`` from one
    address) within ``SIGNIN_WINDOW_S``, sign-in answers 429 with ``Retry-After``, even with the right password."""
    throttle: SignInThrottle = request.app.state.signin
    address = request.client.host if request.client else "unknown"
    try:
        await throttle.admit(form.username, address)
    except Throttled as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, exc.reason, headers={"Retry-After": str(exc.retry_after)}) from None
    stored = await r.hgetall(user_key(form.username))
    # argon2 takes ~0.1 s of CPU on purpose: off the event loop, so sockets keep flowing meanwhile
    if not stored or not await run_in_threadpool(verify_password, form.password, stored[b"hash"].decode()):
        await throttle.failed(address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"})
    await throttle.succeeded(form.username)
    who = Principal(form.username, stored[b"role"].decode(), stored.get(b"entity", b"").decode())
    return TokenOut(access_token=access_token(who, cfg.jwt_secret, cfg.access_token_minutes), role=who.role, entity=who.entity)


@router.post("/register", response_model=TokenOut, status_code=201, operation_id="register_customer")
async def register(body: Register, r: Redis, cfg: Config) -> TokenOut:
    """Create a customer account and sign it in."""
    if not await r.hsetnx(user_key(body.username), "hash", await run_in_threadpool(hash_password, body.password)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"user name {body.username!r} is taken")
    await r.hset(user_key(body.username), mapping={"role": "customer", "entity": body.username})
    who = Principal(body.username, "customer", body.username)
    await audit(r, who, "register", body.username)
    return TokenOut(access_token=access_token(who, cfg.jwt_secret, cfg.access_token_minutes), role="customer", entity=body.username)


@router.post("/users", status_code=201, operation_id="create_user")
async def create_user(body: UserCreate, r: Redis, admin: Admin) -> dict[str, str]:
    """Admins create store, courier, planner and admin logins."""
    entity = body.entity or body.username
    if body.role == "store" and not await r.hexists("live:stores", entity):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"a store login needs the id of a known store, not {entity!r}")
    if not await r.hsetnx(user_key(body.username), "hash", await run_in_threadpool(hash_password, body.password)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"user name {body.username!r} is taken")
    await r.hset(user_key(body.username), mapping={"role": body.role, "entity": entity})
    await audit(r, admin, "create_user", body.username, user_role=body.role)
    return {"username": body.username, "role": body.role, "entity": entity}
