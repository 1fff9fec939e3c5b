"""Passwords (argon2 through pwdlib), access tokens (JWT, HS256) and tracking tokens.

A tracking token is a JWT of its own audience and secret naming one order: a customer can share a
tracking link without sharing a login, and the link expires.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()
ROLES = ("customer", "courier", "store", "planner", "admin")
# a token without one of these is refused (PyJWT checks ``sub`` is a string and ``exp`` a number when present)
ACCESS_CLAIMS = ["sub", "exp", "aud", "role"]
TRACKING_CLAIMS = ["sub", "exp", "aud"]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher.verify(password, hashed)
    except Exception:  # noqa: BLE001 - a malformed stored hash is a failed login, not a crash
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: user name, role, and the store or courier id the account acts for."""

    user: str
    role: str
    entity: str = ""


class TokenError(ValueError):
    """The token is missing, malformed, expired or for something else."""


def access_token(principal: Principal, secret: str, minutes: int) -> str:
    now = int(time.time())
    claims = {"sub": principal.user, "role": principal.role, "ent": principal.entity, "iat": now, "exp": now + minutes * 60, "aud": "api"}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_access_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="api", options={"require": ACCESS_CLAIMS})
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid access token: {exc}") from None
    if not claims["sub"]:
        raise TokenError("invalid access token: empty sub")
    if claims["role"] not in ROLES:
        raise TokenError("invalid access token: unknown role")
    entity = claims.get("ent", "")
    if not isinstance(entity, str):
        raise TokenError("invalid access token: ent must be a string")
    return Principal(claims["sub"], claims["role"], entity)


def tracking_token(order_id: str, secret: str, hours: int) -> str:
    now = int(time.time())
    return jwt.encode({"sub": order_id, "iat": now, "exp": now + hours * 3600, "aud": "track"}, secret, algorithm="HS256")


def read_tracking_token(token: str, secret: str, order_id: str) -> None:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="track", options={"require": TRACKING_CLAIMS})
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid tracking token: {exc}") from None
    if claims.get("sub") != order_id:
        raise TokenError("this tracking token is for another order")
