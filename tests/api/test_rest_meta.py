"""The audit stream, the health check and the OpenAPI document."""
from __future__ import annotations

from datetime import datetime

import httpx


def audit(live) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in live.redis.xrange("audit")]


def test_state_changes_are_audited_with_who_role_action_target(live) -> None:
    g1 = next(s for s in live.stores() if s["id"] == "g1")
    reg = httpx.post(f"{live.base}/auth/register", json={"username": "erin", "password": "erin-pass-1"})
    assert reg.status_code == 201
    erin = {"Authorization": f"Bearer {reg.json()['access_token']}"}
    placed = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": {"lat": g1["lat"], "lng": g1["lng"] + 0.01}, "mode": "asap"},
                        headers=erin)
    assert placed.status_code == 201
    oid = placed.json()["id"]
    assert httpx.post(f"{live.base}/orders/{oid}/cancel", headers=erin).status_code == 202
    courier = live.headers("courier-3")
    on = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": g1["lat"], "lng": g1["lng"], "hours": 2}, headers=courier)
    assert on.status_code == 202 and on.json()["detail"] == "shift_on for courier-3 queued; watch /ws/courier"
    off = httpx.post(f"{live.base}/couriers/me/shift", json={"on": False}, headers=courier)
    assert off.status_code == 202 and off.json()["detail"] == "shift_off for courier-3 queued; watch /ws/courier"

    entries = audit(live)
    assert [(e["who"], e["role"], e["action"], e["target"]) for e in entries] == [
        ("erin", "customer", "register", "erin"),
        ("erin", "customer", "create_order", oid),
        ("erin", "customer", "cancel_order", oid),
        ("courier-3", "courier", "shift_on", "courier-3"),
        ("courier-3", "courier", "shift_off", "courier-3"),
    ]
    assert entries[1]["store"] == "g1" and entries[1]["mode"] == "asap"
    stamps = [datetime.fromisoformat(e["at"]) for e in entries]
    assert stamps == sorted(stamps) and all(s.tzinfo is not None for s in stamps)
    # refusals are not actions: nothing more is audited
    assert httpx.post(f"{live.base}/orders/{oid}/cancel", headers=erin).status_code == 409
    assert httpx.post(f"{live.base}/couriers/me/shift", json={"on": True}, headers=courier).status_code == 422
    assert httpx.post(f"{live.base}/couriers/me/shift", json={"on": False}, headers=live.headers("courier-4")).status_code == 409
    assert httpx.post(f"{live.base}/auth/register", json={"username": "erin", "password": "erin-pass-1"}).status_code == 409
    assert len(audit(live)) == len(entries)


def test_health(live) -> None:
    reply = httpx.get(f"{live.base}/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["ok"] is True and body["redis"] is True
    assert body["regions"] == sorted({s["region"] for s in live.stores()}) == sorted(f"{r:x}" for r in live.regions)


def test_openapi_has_stable_operation_ids_and_the_order_example(live) -> None:
    reply = httpx.get(f"{live.base}/openapi.json")
    assert reply.status_code == 200
    doc = reply.json()
    ops = {op["operationId"]: (method.upper(), path) for path, item in doc["paths"].items() for method, op in item.items()}
    expected = {
        "sign_in": ("POST", "/auth/token"), "register_customer": ("POST", "/auth/register"), "create_user": ("POST", "/auth/users"),
        "quote_delivery": ("POST", "/quote"), "create_order": ("POST", "/orders"), "list_my_orders": ("GET", "/orders"),
        "get_order": ("GET", "/orders/{order_id}"), "cancel_order": ("POST", "/orders/{order_id}/cancel"),
        "list_stores": ("GET", "/stores"), "list_store_orders": ("GET", "/stores/{store_id}/orders"),
        "store_accept_order": ("POST", "/stores/{store_id}/orders/{order_id}/accept"),
        "store_order_ready": ("POST", "/stores/{store_id}/orders/{order_id}/ready"),
        "change_shift": ("POST", "/couriers/me/shift"), "get_my_courier_state": ("GET", "/couriers/me"),
        "zone_statistics": ("GET", "/ops/zones"), "health": ("GET", "/health"), "tracking_state": ("GET", "/track/{order_id}/state"),
    }
    for op_id, where in expected.items():
        assert ops.get(op_id) == where, op_id
    n_ops = sum(len(item) for item in doc["paths"].values())
    assert len(ops) == n_ops  # every operation has an id of its own, none generated twice

    schema = doc["components"]["schemas"]["OrderCreate"]
    assert {"store_id": "s1", "dropoff": {"lat": 31.2304, "lng": 121.4737}, "mode": "asap"} in schema["examples"]
    assert schema["additionalProperties"] is False
    create = doc["paths"]["/orders"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrderCreate")
    assert {"201", "409", "422"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert "Authorization" not in reply.request.headers  # the document is public
