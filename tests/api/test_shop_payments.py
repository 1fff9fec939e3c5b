"""Placing and paying are idempotent; a webhook is believed only when its HMAC verifies; odd payments are refunded."""
from __future__ import annotations

import json
import time

import httpx

from actors import live_keys as K
from commerce.payments import SIGNATURE_HEADER, sign
from tests.api.shop_testkit import (
    as_demo,
    balance,
    cart,
    checkout,
    deliver,
    coupon_uses,
    get_checkout,
    give_points,
    ledger,
    order_status,
    pay,
    place,
    placed,
    provider,
    shift_on,
    refunds,
    reservation,
    simulate,
    sold,
    stock,
    webhook,
)

BEEF = "noodle-beef"


def dispatched(live, customer: str) -> list[str]:
    """Orders handed to dispatch for ``customer`` (what ``enqueue_order`` writes)."""
    return [m.decode() for m in live.redis.zrange(f"orders:customer:{customer}", 0, -1)]


def queued_for_dispatch(live, order_id: str) -> int:
    """How many times the order was written to its region's input stream (``quiet``: the streams are not trimmed)."""
    return sum(1 for region in live.regions for _, f in live.redis.xrange(K.inputs_key(region))
               if f[b"k"] == b"order" and json.loads(f[b"j"])["id"] == order_id)



def test_place_with_the_same_key_reserves_once(live) -> None:
    alice = as_demo(live, "alice")
    body = cart(live, "s1", [(BEEF, 1)], coupon="SAVE5", note="ring twice")
    before = stock(live, "s1", BEEF)
    first = place(live, alice, body, key="cart-7")
    assert first.status_code == 201, first.text
    assert first.json()["quote"]["coupon"] == "SAVE5"
    again = place(live, alice, body, key="cart-7")
    assert again.status_code == 201 and again.content == first.content
    assert stock(live, "s1", BEEF) == before - 1 and coupon_uses(live, "SAVE5", "alice") == 1
    assert [k.decode() for k in live.redis.keys("checkout:o*")] == [f"checkout:{first.json()['order_id']}"]
    assert live.redis.get(K.ORDER_COUNTER) == b"1"
    # the same key for another body is refused, and changes nothing
    other = place(live, alice, {**body, "lines": [{"sku": BEEF, "qty": 2}]}, key="cart-7")
    assert other.status_code == 422 and "different request body" in other.text
    # keys are per customer: bob's "cart-7" is his own order
    bob = place(live, as_demo(live, "bob"), body, key="cart-7")
    assert bob.status_code == 201 and bob.json()["order_id"] != first.json()["order_id"]
    # a refused checkout frees its key: the same key works once the cart is fixable
    live.redis.hset("stock:{s1}", "noodle-dandan", 0)
    sold_out = cart(live, "s1", [("noodle-dandan", 1)])
    assert place(live, alice, sold_out, key="cart-8").status_code == 409
    live.redis.hset("stock:{s1}", "noodle-dandan", 1)
    assert place(live, alice, sold_out, key="cart-8").status_code == 201
    assert stock(live, "s1", BEEF) == before - 2 and stock(live, "s1", "noodle-dandan") == 0
    assert coupon_uses(live, "SAVE5", "alice") == 1 and coupon_uses(live, "SAVE5", "bob") == 1


def test_the_same_webhook_twice_pays_and_dispatches_once(quiet) -> None:
    live = quiet
    alice = as_demo(live, "alice")
    out = placed(live, alice, cart(live, "s1", [(BEEF, 2)]))
    oid, total = out["order_id"], out["payment"]["amount_cents"]
    assert out["payment"]["intent"] == oid and total == out["quote"]["total_cents"]
    p, intent = provider(live, oid)
    body, headers = p.webhook(intent, "succeeded")
    first = webhook(live, body, headers)
    assert first.status_code == 200 and first.json()["result"] == "dispatched", first.text
    time.sleep(1.1)  # the retry is signed in a later second, as a provider's would be
    body2, headers2 = p.resend(body)
    assert body2 == body and headers2 != headers
    for b, h in ((body2, headers2), (body, headers)):
        dup = webhook(live, b, h)
        assert dup.status_code == 200 and dup.json() == {"event": json.loads(body)["id"], "result": "duplicate"}
    assert checkout(live, oid)["status"] == "paid" and "refunded_cents" not in checkout(live, oid)
    assert sold(live, "s1", BEEF) == 2 and reservation(live, "s1", oid)["_state"] == "committed"
    assert dispatched(live, "alice") == [oid] and queued_for_dispatch(live, oid) == 1
    assert refunds(live) == []
    assert int(live.redis.get("spend:alice")) == total - out["quote"]["delivery_cents"]
    order = live.wait(lambda: (o := httpx.get(f"{live.base}/orders/{oid}", headers=alice).json())["status"] != "placed" and o,
                      what="the paid order in dispatch")
    assert order["fee_cents"] == out["quote"]["delivery_cents"]

    # a second, different payment for a paid order (the customer paid twice) is refunded, not dispatched again
    twice = simulate(live, alice, oid)
    assert twice.status_code == 200 and twice.json()["reply"]["result"] == "refunded_paid"
    assert [(r["order"], int(r["cents"])) for r in refunds(live)] == [(oid, total)]
    shown = get_checkout(live, alice, oid).json()
    assert shown["returned_cents"] == total and shown["refunded_cents"] == 0  # returned to the payer, not a refund of the order
    assert dispatched(live, "alice") == [oid] and queued_for_dispatch(live, oid) == 1 and sold(live, "s1", BEEF) == 2


def test_unverified_webhooks_are_refused_and_change_nothing(live) -> None:
    alice = as_demo(live, "alice")
    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    oid = out["order_id"]
    p, intent = provider(live, oid)
    body, headers = p.webhook(intent, "succeeded")
    header = headers[SIGNATURE_HEADER]
    now = int(time.time())
    forged = body.replace(b'"amount_cents":', b'"amount_cents":1')  # a tampered amount under the genuine signature
    assert forged != body
    mac = header.split("v1=")[1]
    wrong, _ = provider(live, oid, secret="not-the-shared-secret")
    _, wrong_headers = wrong.webhook(wrong.intent(oid), "succeeded")
    cases = {
        "tampered body": (forged, headers, "bad_signature"),
        "tampered signature": (body, {SIGNATURE_HEADER: header[:-4] + ("0000" if not mac.endswith("0000") else "1111")}, "bad_signature"),
        "signed with another secret": (body, wrong_headers, "bad_signature"),
        "missing header": (body, {}, "bad_signature"),
        "empty header": (body, {SIGNATURE_HEADER: ""}, "bad_signature"),
        "no timestamp": (body, {SIGNATURE_HEADER: f"v1={mac}"}, "bad_signature"),
        "timestamp moved": (body, {SIGNATURE_HEADER: f"t={now + 1},v1={mac}"}, "bad_signature"),
        "stale": (body, {SIGNATURE_HEADER: sign(body, live.settings.payment_secret, now - 3600)}, "stale_signature"),
        "from the future": (body, {SIGNATURE_HEADER: sign(body, live.settings.payment_secret, now + 3600)}, "stale_signature"),
    }
    for name, (b, h, code) in cases.items():
        reply = webhook(live, b, h)
        assert reply.status_code == 400, (name, reply.status_code, reply.text)
        assert reply.json()["detail"]["code"] == code, (name, reply.text)
    # nothing moved: still awaiting payment, stock reserved not sold, no order, no event remembered
    assert get_checkout(live, alice, oid).json()["status"] == "awaiting_payment"
    assert reservation(live, "s1", oid)["_state"] == "reserved" and sold(live, "s1", BEEF) == 0
    assert order_status(live, oid) is None and live.redis.keys("webhook-event:*") == []
    too_big = webhook(live, b"{" + b" " * 17_000 + b"}", headers)
    assert too_big.status_code == 413
    # a correctly signed body that is not a payment event is refused after verification
    junk = b'{"id":"evt_x","type":"payment.refunded"}'
    bad = webhook(live, junk, {SIGNATURE_HEADER: sign(junk, live.settings.payment_secret, now)})
    assert bad.status_code == 400 and bad.json()["detail"]["code"] == "bad_payload"
    # the genuine delivery still works afterwards
    ok = webhook(live, body, headers)
    assert ok.status_code == 200 and ok.json()["result"] == "dispatched"


def test_failed_payment_releases_everything_and_a_late_success_is_refunded(live) -> None:
    alice = as_demo(live, "alice")
    give_points(live, "alice", 2000)
    quote = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)], mode="scheduled"), headers=alice).json()
    body = cart(live, "s1", [(BEEF, 1)], coupon="SAVE5", points=500, mode="scheduled", slot_start=quote["slots"][0]["start"])
    beef = stock(live, "s1", BEEF)
    out = placed(live, alice, body)
    oid = out["order_id"]
    slot = checkout(live, oid)["slot"]
    assert live.redis.get(slot) == b"1" and coupon_uses(live, "SAVE5", "alice") == 1 and balance(live, "alice") == 1500

    failed = simulate(live, alice, oid, "failed")
    assert failed.status_code == 200 and failed.json()["reply"]["result"] == "released", failed.text
    assert get_checkout(live, alice, oid).json()["status"] == "payment_failed"
    assert stock(live, "s1", BEEF) == beef and reservation(live, "s1", oid)["_state"] == "released"
    assert coupon_uses(live, "SAVE5", "alice") == 0 and balance(live, "alice") == 2000
    assert [(e["reason"], e["delta"]) for e in ledger(live, "alice")] == [("adjust", "2000"), ("spend", "-500"), ("refund_spend", "500")]
    assert live.redis.get(slot) == b"0"
    # a second failure changes nothing; a success arriving now is refunded and not dispatched
    assert simulate(live, alice, oid, "failed").json()["reply"]["result"] == "ignored"
    late = simulate(live, alice, oid)
    assert late.json()["reply"]["result"] == "refunded_payment_failed"
    assert [(r["order"], int(r["cents"])) for r in refunds(live)] == [(oid, out["payment"]["amount_cents"])]
    assert order_status(live, oid) is None and stock(live, "s1", BEEF) == beef and sold(live, "s1", BEEF) == 0
    assert balance(live, "alice") == 2000 and coupon_uses(live, "SAVE5", "alice") == 0


def test_a_payment_of_the_wrong_amount_is_refunded_not_dispatched(live) -> None:
    alice = as_demo(live, "alice")
    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    oid, total = out["order_id"], out["payment"]["amount_cents"]
    secret, now = live.settings.payment_secret, int(time.time())
    short = json.dumps({"id": "evt_short", "type": "payment.succeeded", "created": now, "intent": oid, "order_id": oid,
                        "amount_cents": total - 100}).encode()
    reply = webhook(live, short, {SIGNATURE_HEADER: sign(short, secret, now)})
    assert reply.status_code == 200 and reply.json()["result"] == "refunded_mismatch"
    assert [(r["order"], int(r["cents"])) for r in refunds(live)] == [(oid, total - 100)]
    assert get_checkout(live, alice, oid).json()["status"] == "awaiting_payment"
    assert order_status(live, oid) is None and sold(live, "s1", BEEF) == 0
    # the right amount afterwards is paid and dispatched
    assert simulate(live, alice, oid).json()["reply"]["result"] == "dispatched"
    assert checkout(live, oid)["status"] == "paid" and sold(live, "s1", BEEF) == 1
    # an event for an order that does not exist is refused, and can be delivered again later (not remembered)
    ghost = json.dumps({"id": "evt_ghost", "type": "payment.succeeded", "created": now, "intent": "o999", "order_id": "o999",
                        "amount_cents": 100}).encode()
    missing = webhook(live, ghost, {SIGNATURE_HEADER: sign(ghost, secret, now)})
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "unknown_order"
    assert live.redis.get("webhook-event:evt_ghost") is None


def test_one_sku_over_several_lines_is_refused_alike_by_quote_and_checkout(live) -> None:
    """Pricing and the stock merge a SKU's lines into one; more than 99 units of it together are refused, never a 500."""
    alice = as_demo(live, "alice")
    body = cart(live, "s1", [(BEEF, 50), (BEEF, 50)])
    before = stock(live, "s1", BEEF)
    quoted = httpx.post(f"{live.base}/checkout/quote", json=body, headers=alice)
    refused = place(live, alice, body, key="split-100")
    assert quoted.status_code == refused.status_code == 422, (quoted.text, refused.text)
    assert quoted.json() == refused.json()
    assert any(f"{BEEF}: 100 units" in reason and "at most 99" in reason for reason in refused.json()["detail"]), refused.text
    assert stock(live, "s1", BEEF) == before and live.redis.keys("checkout:o*") == []
    # within the limit the split cart is one line of the merged quantity, quoted and placed alike
    ok = cart(live, "s1", [(BEEF, 50), (BEEF, 49)])
    quote = httpx.post(f"{live.base}/checkout/quote", json=ok, headers=alice)
    assert quote.status_code == 200, quote.text
    live.redis.hset("stock:{s1}", BEEF, 99)
    out = placed(live, alice, ok)
    assert out["quote"]["total_cents"] == quote.json()["total_cents"]
    assert checkout(live, out["order_id"])["lines"] == f'[{{"sku": "{BEEF}", "qty": 99}}]' and stock(live, "s1", BEEF) == 0


def test_a_second_payment_is_returned_without_touching_the_orders_refunds(live) -> None:
    """paid = kept + refunded for the order: a duplicate payment goes back to the payer on its own, so a later
    after-sales refund of part of the order is still possible."""
    alice, admin = as_demo(live, "alice"), as_demo(live, "admin")
    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    oid, total = out["order_id"], out["payment"]["amount_cents"]
    shift_on(live, "courier-3", "s1")
    pay(live, alice, oid)
    pin = httpx.get(f"{live.base}/orders/{oid}", headers=alice).json()["pin"]
    deliver(live, "courier-3", oid, pin)
    twice = simulate(live, alice, oid)
    assert twice.status_code == 200 and twice.json()["reply"]["result"] == "refunded_paid", twice.text
    assert [(r["order"], int(r["cents"]), r["kind"]) for r in refunds(live, oid)] == [(oid, total, "returned_payment")]
    c = checkout(live, oid)
    assert "refunded_cents" not in c and c["returned_cents"] == str(total) and c["returned_payments"] == "1"

    asked = httpx.post(f"{live.base}/orders/{oid}/refund-requests", headers=alice,
                       json={"lines": [{"sku": BEEF, "qty": 1}], "amount_cents": 500, "reason": "cold"})
    assert asked.status_code == 201, asked.text
    assert httpx.post(f"{live.base}/after-sales/{oid}/refund-requests/1/approve", headers=admin).status_code == 200
    done = httpx.post(f"{live.base}/after-sales/{oid}/refund-requests/1/refund", headers=admin, json={"payment_ref": "sim-r1"})
    assert done.status_code == 200 and done.json()["status"] == "refunded", done.text
    shown = get_checkout(live, alice, oid).json()
    assert shown["refunded_cents"] == 500 and shown["returned_cents"] == total and shown["total_cents"] == total
    assert [int(r["cents"]) for r in refunds(live, oid)] == [total, 500]
