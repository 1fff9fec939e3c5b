"""Browse, check out with a coupon, pay through the simulated provider, and the paid order is dispatched."""
from __future__ import annotations

import httpx


def test_cart_to_paid_order_in_dispatch(live) -> None:
    alice = live.headers("alice")
    store = next(s for s in live.stores() if s["id"] == "s1")
    items = httpx.get(f"{live.base}/shop/stores/s1/items?listing=hot&limit=3").json()
    assert items and all(i["store_id"] == "s1" and i["stock"] > 0 for i in items)
    sku, price = items[0]["sku"], items[0]["price_cents"]
    body = {"store_id": "s1", "lines": [{"sku": sku, "qty": 2}], "dropoff": {"lat": store["lat"] + 0.005, "lng": store["lng"]}, "coupon": "SAVE5"}
    quote = httpx.post(f"{live.base}/checkout/quote", json=body, headers=alice)
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert q["goods_cents"] == 2 * price and sum(line["amount_cents"] for line in q["lines"]) == q["total_cents"]
    placed = httpx.post(f"{live.base}/checkout/orders", json=body, headers={**alice, "Idempotency-Key": "cart-1"})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    stock_after = httpx.get(f"{live.base}/shop/stores/s1/items?listing=hot&limit=3").json()[0]["stock"]
    assert stock_after == items[0]["stock"] - 2
    paid = httpx.post(f"{live.base}/payments/{order_id}/simulate", json={"outcome": "succeeded"}, headers=alice)
    assert paid.status_code == 200 and paid.json()["reply"]["result"] == "dispatched", paid.text
    order = live.wait(lambda: (o := httpx.get(f"{live.base}/orders/{order_id}", headers=alice).json())["status"] != "placed" and o,
                      what="the paid order in dispatch")
    assert order["status"] in ("paid", "accepted", "preparing", "ready", "assigned")
    assert httpx.get(f"{live.base}/checkout/orders/{order_id}", headers=alice).json()["status"] == "paid"
