"""REST sign-in, tokens, customer registration and admin-created users, against the live service."""
from __future__ import annotations

import asyncio
import logging
import time

import httpx
import jwt
import websockets

from api.logredact import RedactTokens, redact
from api.security import Principal, access_token
from api.settings import DEV_SECRET
from tests.api.conftest import start_live


def entries(live, stream: str = "audit") -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in live.redis.xrange(stream)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_gives_a_token_with_role_and_entity(live) -> None:
    reply = httpx.post(f"{live.base}/auth/token", data={"username": "alice", "password": "demo"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer" and body["role"] == "customer" and body["entity"] == "alice"
    claims = jwt.decode(body["access_token"], live.settings.jwt_secret, algorithms=["HS256"], audience="api")
    assert claims["sub"] == "alice" and claims["role"] == "customer"
    assert claims["exp"] - claims["iat"] == live.settings.access_token_minutes * 60
    store = httpx.post(f"{live.base}/auth/token", data={"username": "store-g1", "password": "demo"}).json()
    assert (store["role"], store["entity"]) == ("store", "g1")
    # the token works
    assert httpx.get(f"{live.base}/orders", headers=bearer(body["access_token"])).json() == []


def test_wrong_password_and_unknown_user_are_401_with_www_authenticate(live) -> None:
    for user, password in (("alice", "wrong"), ("nobody", "demo"), ("alice", "")):
        reply = httpx.post(f"{live.base}/auth/token", data={"username": user, "password": password})
        if password == "":  # the OAuth2 form requires a password
            assert reply.status_code == 422
            continue
        assert reply.status_code == 401, reply.text
        assert reply.json()["detail"] == "wrong user name or password"
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert "access_token" not in reply.text


def test_missing_garbled_expired_or_forged_tokens_are_401(live) -> None:
    url = f"{live.base}/orders"
    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["detail"].startswith("not signed in")
    not_bearer = httpx.get(url, headers={"Authorization": "Basic YWxpY2U6ZGVtbw=="})
    assert not_bearer.status_code == 401 and not_bearer.json()["detail"].startswith("not signed in")

    garbled = httpx.get(url, headers=bearer("not-a-jwt"))
    assert garbled.status_code == 401 and garbled.headers["WWW-Authenticate"] == "Bearer"
    assert garbled.json()["detail"].startswith("invalid access token")

    secret = live.settings.jwt_secret
    zero = access_token(Principal("alice", "customer", "alice"), secret, minutes=0)
    past = int(time.time()) - 120
    expired = jwt.encode({"sub": "alice", "role": "customer", "ent": "alice", "iat": past - 60, "exp": past, "aud": "api"}, secret, algorithm="HS256")
    for token in (zero, expired):
        reply = httpx.get(url, headers=bearer(token))
        assert reply.status_code == 401, reply.text
        assert reply.json()["detail"] == "invalid access token: Signature has expired"
        assert reply.headers["WWW-Authenticate"] == "Bearer"

    forged = access_token(Principal("alice", "admin", ""), "another-secret-of-32-characters-at-least", minutes=60)
    reply = httpx.get(f"{live.base}/ops/zones", headers=bearer(forged))
    assert reply.status_code == 401 and "Signature verification failed" in reply.json()["detail"]

    wrong_audience = jwt.encode({"sub": "alice", "role": "customer", "exp": int(time.time()) + 60, "aud": "track"}, secret, algorithm="HS256")
    reply = httpx.get(url, headers=bearer(wrong_audience))
    assert reply.status_code == 401 and "audience" in reply.json()["detail"].lower()

    odd_role = jwt.encode({"sub": "alice", "role": "root", "exp": int(time.time()) + 60, "aud": "api"}, secret, algorithm="HS256")
    reply = httpx.get(url, headers=bearer(odd_role))
    assert reply.status_code == 401 and reply.json()["detail"] == "invalid access token: unknown role"
    assert secret == DEV_SECRET  # the test service runs with the development secret


def test_tokens_missing_a_required_claim_are_401_with_the_claim_named(live) -> None:
    secret = live.settings.jwt_secret
    full = {"sub": "alice", "role": "customer", "ent": "alice", "iat": int(time.time()), "exp": int(time.time()) + 600, "aud": "api"}
    assert httpx.get(f"{live.base}/orders", headers=bearer(jwt.encode(full, secret, algorithm="HS256"))).status_code == 200
    for claim in ("sub", "exp", "role", "aud"):
        token = jwt.encode({k: v for k, v in full.items() if k != claim}, secret, algorithm="HS256")
        reply = httpx.get(f"{live.base}/orders", headers=bearer(token))
        assert reply.status_code == 401, (claim, reply.text)
        assert reply.json()["detail"] == f'invalid access token: Token is missing the "{claim}" claim'
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    odd = {"a number for sub": {**full, "sub": 7}, "an empty sub": {**full, "sub": ""}, "a list for ent": {**full, "ent": ["g1"]}}
    for what, claims in odd.items():
        reply = httpx.get(f"{live.base}/orders", headers=bearer(jwt.encode(claims, secret, algorithm="HS256")))
        assert reply.status_code == 401, (what, reply.text)
        assert reply.json()["detail"].startswith("invalid access token: "), what
    # the tokens the service issues carry every required claim
    issued = jwt.decode(live.token("alice"), secret, algorithms=["HS256"], audience="api")
    assert {"sub", "exp", "role", "aud"} <= set(issued)


def test_tracking_tokens_without_exp_or_sub_are_refused(live) -> None:
    store = live.stores()[0]
    door = {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}
    order = httpx.post(f"{live.base}/orders", json={"store_id": store["id"], "dropoff": door}, headers=live.headers("alice")).json()
    secret = live.settings.tracking_secret
    issued = jwt.decode(order["tracking"]["token"], secret, algorithms=["HS256"], audience="track")
    assert {"sub", "exp", "aud"} <= set(issued)
    full = {"sub": order["id"], "iat": int(time.time()), "exp": int(time.time()) + 600, "aud": "track"}
    url = f"{live.base}/track/{order['id']}/state"
    assert httpx.get(url, params={"token": jwt.encode(full, secret, algorithm="HS256")}).status_code == 200
    for claim in ("sub", "exp", "aud"):
        token = jwt.encode({k: v for k, v in full.items() if k != claim}, secret, algorithm="HS256")
        reply = httpx.get(url, params={"token": token})
        assert reply.status_code == 401, (claim, reply.text)
        assert reply.json()["detail"] == f'invalid tracking token: Token is missing the "{claim}" claim'


def test_redact_rewrites_only_token_values() -> None:
    assert redact("/track/o1/state?token=a.b-c_d&after=3") == "/track/o1/state?token=***&after=3"
    assert redact("/ws/courier?after=2&token=xyz") == "/ws/courier?after=2&token=***"
    assert redact("/x?access_token=xyz#frag") == "/x?access_token=***#frag"
    assert redact("/orders?limit=5&mytoken=keep") == "/orders?limit=5&mytoken=keep"


def test_tokens_in_the_query_stay_out_of_uvicorns_logs(redis_url) -> None:
    live, stop = start_live(redis_url, log_level="info")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        assert any(isinstance(f, RedactTokens) for f in logger.filters)  # installed by create_app
        logger.addHandler(keep)
    try:
        store = live.stores()[0]
        door = {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}
        order = httpx.post(f"{live.base}/orders", json={"store_id": store["id"], "dropoff": door}, headers=live.headers("alice")).json()
        tracking, courier = order["tracking"]["token"], live.token("courier-1")
        assert httpx.get(f"{live.base}/track/{order['id']}/state", params={"token": tracking}).status_code == 200

        async def run() -> None:
            for url in (f"{live.ws}/ws/track/{order['id']}?token={tracking}&after=0", f"{live.ws}/ws/courier?token={courier}"):
                async with websockets.connect(url) as ws:
                    assert "hello" in await asyncio.wait_for(ws.recv(), 10)

        asyncio.run(run())
    finally:
        for logger in loggers:
            logger.removeHandler(keep)
        stop()
    lines = [r.getMessage() for r in records]
    assert any(f"GET /track/{order['id']}/state?token=*** HTTP/1.1" in line for line in lines), lines
    assert any(f'"WebSocket /ws/track/{order["id"]}?token=***&after=0" [accepted]' in line for line in lines), lines
    assert any('"WebSocket /ws/courier?token=***" [accepted]' in line for line in lines), lines
    assert not [line for line in lines if tracking in line or courier in line]


def sign_in(live, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{live.base}/auth/token", data={"username": user, "password": password})


def test_sign_in_is_throttled_per_account_even_for_the_right_password(live) -> None:
    limit, window = live.settings.signin_account_failures, live.settings.signin_window_s
    assert limit == 5
    replies = [sign_in(live, "alice", f"guess-{i}") for i in range(20)]
    assert [r.status_code for r in replies] == [401] * limit + [429] * (20 - limit)
    right = sign_in(live, "alice", "demo")
    assert right.status_code == 429 and "access_token" not in right.text
    assert right.json()["detail"].startswith("too many failed sign-ins for this account")
    assert 0 < int(right.headers["Retry-After"]) <= window
    assert 0 < live.redis.ttl("throttle:signin:user:alice") <= window  # the counter expires
    # another account from the same address is not locked out
    assert sign_in(live, "bob", "demo").status_code == 200


def test_a_successful_sign_in_resets_the_account_counter(live) -> None:
    limit = live.settings.signin_account_failures
    for _ in range(3):
        assert [sign_in(live, "bob", "nope").status_code for _ in range(limit - 1)] == [401] * (limit - 1)
        assert sign_in(live, "bob", "demo").status_code == 200
    assert not live.redis.exists("throttle:signin:user:bob")
    # many good sign-ins in a row are never throttled: only failures count
    assert {sign_in(live, "courier-1", "demo").status_code for _ in range(3 * limit)} == {200}


def test_parallel_guesses_do_not_slip_past_the_account_limit(live) -> None:
    limit = live.settings.signin_account_failures

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            replies = await asyncio.gather(*(client.post("/auth/token", data={"username": "alice", "password": f"p{i}"}) for i in range(20)))
            return [r.status_code for r in replies]

    codes = asyncio.run(run())
    assert sorted(codes) == [401] * limit + [429] * (20 - limit)


def test_sign_in_is_throttled_per_address(redis_url) -> None:
    live, stop = start_live(redis_url, signin_address_failures=6)
    try:
        assert [sign_in(live, f"nobody-{i}", "demo").status_code for i in range(6)] == [401] * 6
        refused = sign_in(live, "alice", "demo")
        assert refused.status_code == 429, refused.text
        assert refused.json()["detail"].startswith("too many failed sign-ins for this address (6 in 300 s)")
        assert 0 < int(refused.headers["Retry-After"]) <= 300
    finally:
        stop()


def test_register_a_customer_then_sign_in(live) -> None:
    reply = httpx.post(f"{live.base}/auth/register", json={"username": "carol", "password": "carol-pass-1"})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert (body["role"], body["entity"], body["token_type"]) == ("customer", "carol", "bearer")
    assert httpx.get(f"{live.base}/orders", headers=bearer(body["access_token"])).json() == []
    stored = {k.decode(): v.decode() for k, v in live.redis.hgetall("user:carol").items()}
    assert stored["role"] == "customer" and stored["entity"] == "carol"
    assert "carol-pass-1" not in stored["hash"] and stored["hash"].startswith("$argon2")

    signed = httpx.post(f"{live.base}/auth/token", data={"username": "carol", "password": "carol-pass-1"})
    assert signed.status_code == 200 and signed.json()["role"] == "customer"
    assert httpx.post(f"{live.base}/auth/token", data={"username": "carol", "password": "demo"}).status_code == 401

    again = httpx.post(f"{live.base}/auth/register", json={"username": "carol", "password": "another-pass"})
    assert again.status_code == 409 and again.json()["detail"] == "user name 'carol' is taken"
    taken = httpx.post(f"{live.base}/auth/register", json={"username": "admin", "password": "another-pass"})
    assert taken.status_code == 409 and taken.json()["detail"] == "user name 'admin' is taken"
    # the failed attempts changed nothing: carol's password and admin's role are as they were
    assert httpx.post(f"{live.base}/auth/token", data={"username": "carol", "password": "carol-pass-1"}).status_code == 200
    assert live.redis.hget("user:admin", "role") == b"admin"

    audit = [e for e in entries(live) if e["action"] == "register"]
    assert len(audit) == 1
    assert (audit[0]["who"], audit[0]["role"], audit[0]["target"]) == ("carol", "customer", "carol")


def test_register_refuses_bad_input_with_reasons(live) -> None:
    cases = {
        "short password": ({"username": "dave", "password": "short"}, "body.password: String should have at least 8 characters"),
        "bad user name": ({"username": "da ve!", "password": "long-enough"}, "body.username: String should match pattern"),
        "short user name": ({"username": "da", "password": "long-enough"}, "body.username: String should have at least 3 characters"),
        "a role is not yours to pick": ({"username": "dave", "password": "long-enough", "role": "admin"}, "body.role: Extra inputs are not permitted"),
    }
    for what, (body, reason) in cases.items():
        reply = httpx.post(f"{live.base}/auth/register", json=body)
        assert reply.status_code == 422, what
        assert any(d.startswith(reason) for d in reply.json()["detail"]), (what, reply.json())
    assert not live.redis.exists("user:dave", "user:da")
    assert not [e for e in entries(live) if e["action"] == "register"]


def test_only_an_admin_creates_users(live) -> None:
    body = {"username": "shop-g2", "password": "store-pass-1", "role": "store", "entity": "g2"}
    for user in ("planner", "alice", "store-g1", "courier-1"):
        reply = httpx.post(f"{live.base}/auth/users", json=body, headers=live.headers(user))
        assert reply.status_code == 403, user
        role = {"planner": "planner", "alice": "customer", "store-g1": "store", "courier-1": "courier"}[user]
        assert reply.json()["detail"] == f"this needs the role admin; you are {role}"
    assert httpx.post(f"{live.base}/auth/users", json=body).status_code == 401
    assert not live.redis.exists("user:shop-g2")

    admin = live.headers("admin")
    unknown = httpx.post(f"{live.base}/auth/users", json={**body, "username": "shop-zz", "entity": "zz"}, headers=admin)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "a store login needs the id of a known store, not 'zz'"
    no_entity = httpx.post(f"{live.base}/auth/users", json={**body, "username": "shop-x", "entity": ""}, headers=admin)
    assert no_entity.status_code == 422 and no_entity.json()["detail"] == "a store login needs the id of a known store, not 'shop-x'"
    assert not live.redis.exists("user:shop-zz", "user:shop-x")

    made = httpx.post(f"{live.base}/auth/users", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json() == {"username": "shop-g2", "role": "store", "entity": "g2"}
    dup = httpx.post(f"{live.base}/auth/users", json=body, headers=admin)
    assert dup.status_code == 409 and dup.json()["detail"] == "user name 'shop-g2' is taken"
    bad_role = httpx.post(f"{live.base}/auth/users", json={**body, "role": "root"}, headers=admin)
    assert bad_role.status_code == 422 and bad_role.json()["detail"][0].startswith("body.role:")

    token = live.token("shop-g2", "store-pass-1")
    assert httpx.get(f"{live.base}/stores/g2/orders", headers=bearer(token)).status_code == 200
    assert httpx.get(f"{live.base}/stores/g1/orders", headers=bearer(token)).status_code == 403

    courier = httpx.post(f"{live.base}/auth/users", json={"username": "rider-9", "password": "rider-pass", "role": "courier"}, headers=admin)
    assert courier.status_code == 201 and courier.json()["entity"] == "rider-9"
    signed = httpx.post(f"{live.base}/auth/token", data={"username": "rider-9", "password": "rider-pass"}).json()
    assert (signed["role"], signed["entity"]) == ("courier", "rider-9")

    audit = [e for e in entries(live) if e["action"] == "create_user"]
    # who acted, in which role, on what; the new login's role must not overwrite the admin's
    assert [(e["who"], e["role"], e["action"], e["target"]) for e in audit] == [
        ("admin", "admin", "create_user", "shop-g2"), ("admin", "admin", "create_user", "rider-9")]
    assert [e["user_role"] for e in audit] == ["store", "courier"]
