"""Shop endpoints: browse, check out, pay (webhook), points. Under the role scopes of ``api.deps``."""
from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api import orders as svc
from api.deps import Admin, Caller, Config, Customer, Redis
from api.idempotency import IDEMPOTENCY_KEY, IdempotencyError, run_once
from api.orders import dt
from api.security import tracking_token
from api.shop import promotions
from api.shop.checkout import Shop
from api.shop.models import CheckoutPlaced, CheckoutQuote, CheckoutRequest, Payment, SimulatedPayment
from commerce.errors import CommerceError
from commerce.payments import SIGNATURE_HEADER, PaymentIntent, SimulatedProvider, parse_webhook
from commerce.pricing import FlashSale

router = APIRouter(tags=["shop"])
CONFLICTS = {"out_of_stock", "limit_reached", "coupon_used_up", "insufficient_points", "not_paid", "too_late", "flash_units_taken"}
NOT_FOUND = {"unknown_store", "unknown_product", "not_sold_here", "unknown_coupon", "unknown_order", "unknown_category"}


def shop_of(request: Request) -> Shop:
    return request.app.state.shop


def refuse(exc: CommerceError | svc.OrderError | IdempotencyError) -> HTTPException:
    if isinstance(exc, CommerceError):
        status = 409 if exc.code in CONFLICTS else 404 if exc.code in NOT_FOUND else 422
        return HTTPException(status, {"code": exc.code, "detail": exc.detail})
    return HTTPException(exc.status, exc.detail)


def item_out(shop: Shop, item: Any, stock: int | None = None) -> dict[str, Any]:
    product = shop.catalog.product(item.sku)
    return {"sku": item.sku, "store_id": item.store_id, "name_en": product.name_en, "name_zh": product.name_zh,
            "category": product.category, "price_cents": item.price_cents, "rating": item.rating, "sales": item.sales,
            "promoted": item.promoted, "stock": item.stock if stock is None else stock}


# -- browse ------------------------------------------------------------------------------------
@router.get("/shop/stores", operation_id="nearby_stores")
async def nearby(request: Request, lat: Annotated[float, Query(json_schema_extra={"minimum": -90, "maximum": 90})],
                 lng: Annotated[float, Query(json_schema_extra={"minimum": -180, "maximum": 180})]) -> list[dict[str, Any]]:
    """Open stores that deliver to (lat, lng), nearest first."""
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise HTTPException(422, "lat must be within [-90, 90] and lng within [-180, 180]")
    shop = shop_of(request)
    minute_of_day = (time.time() / 60 + 8 * 60) % 1440  # the demo city keeps Shanghai time
    return [{"id": s.id, "name": s.name, "lat": s.lat, "lng": s.lng, "cell": s.cell()} for s in shop.catalog.stores_near(lat, lng, minute_of_day)]


@router.get("/shop/stores/{store_id}/items", operation_id="store_items")
async def items(request: Request, store_id: str,
                listing: Annotated[str, Query(json_schema_extra={"enum": ["hot", "new", "promoted"]})] = "hot",
                category: str | None = None, limit: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": 100})] = 20) -> list[dict[str, Any]]:
    """A store's items: ``listing`` hot (sales and rating), new, promoted; or ``category`` (with its sub-categories)."""
    shop = shop_of(request)
    if not 1 <= limit <= 100:
        raise HTTPException(422, "limit must be 1 to 100")
    try:
        if category:
            found = shop.catalog.in_category(store_id, category)
        elif listing == "hot":
            found = shop.catalog.hot(store_id, limit)
        elif listing == "new":
            found = shop.catalog.new(store_id, limit)
        elif listing == "promoted":
            found = shop.catalog.promoted(store_id)
        else:
            raise HTTPException(422, "listing must be hot, new or promoted")
    except CommerceError as exc:
        raise refuse(exc) from None
    found = found[:limit]
    stock = await shop.inventory.stock(store_id, [i.sku for i in found])
    return [item_out(shop, i, stock.get(i.sku, 0)) for i in found]


@router.get("/shop/search", operation_id="search_products")
async def search(request: Request, q: Annotated[str, Query(json_schema_extra={"minLength": 1, "maxLength": 100, "pattern": r"\S"})],
                 store_id: str | None = None,
                 limit: Annotated[int, Query(description="at most this many (below 1 counts as 1, above 100 as 100)")] = 20) -> list[dict[str, Any]]:
    """Keyword search over product names in Chinese (jieba) and English."""
    if not q.strip() or len(q) > 100:
        raise HTTPException(422, "q must be 1 to 100 characters")
    shop = shop_of(request)
    try:
        found = shop.catalog.search(q, store_id=store_id, limit=min(max(limit, 1), 100))
    except CommerceError as exc:
        raise refuse(exc) from None
    stock: dict[str, dict[str, int]] = {}  # the live levels in Redis, not the catalog's seed stock
    for sid in {i.store_id for i in found}:
        stock[sid] = await shop.inventory.stock(sid, [i.sku for i in found if i.store_id == sid])
    return [item_out(shop, i, stock[i.store_id].get(i.sku, 0)) for i in found]


# -- checkout ----------------------------------------------------------------------------------
@router.post("/checkout/quote", response_model=CheckoutQuote, operation_id="checkout_quote")
async def checkout_quote(body: CheckoutRequest, request: Request, r: Redis, cfg: Config, who: Customer) -> CheckoutQuote:
    """The price line by line (items, flash prices, member discount, reduction tier, coupon, points, delivery) and delivery options."""
    shop = shop_of(request)
    try:
        delivery = await svc.quote(r, cfg, body.store_id, body.dropoff, body.mode)
        quote, level = await shop.price(who, body, delivery.distance_m)
    except (CommerceError, svc.OrderError) as exc:
        raise refuse(exc) from None
    out = shop.quote_out(body.store_id, quote, level)
    out.eta, out.slots = delivery.eta, [s.model_dump(mode="json") for s in delivery.slots]
    return out


@router.post("/checkout/orders", status_code=201, response_model=CheckoutPlaced, operation_id="place_order",
             responses={409: {"description": "out of stock, limit reached, coupon used up, not enough points, slot full"}})
async def place(body: CheckoutRequest, request: Request, r: Redis, cfg: Config, who: Customer,
                idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", json_schema_extra=IDEMPOTENCY_KEY)] = None) -> Any:
    """Reserve the goods and open the payment (``PAYMENT_MINUTES`` to pay, default 15). Idempotent with ``Idempotency-Key``."""
    try:
        status, out = await place_once(shop_of(request), r, cfg, who, body, idempotency_key)
    except (CommerceError, svc.OrderError, IdempotencyError) as exc:
        raise refuse(exc) from None
    return JSONResponse(out, status_code=status)


def placed_out(record: dict[str, Any], body: CheckoutRequest, cfg: Any) -> dict[str, Any]:
    """The answer to a placed checkout (built from its record alone, so any worker builds the same one)."""
    quote = json.loads(record["quote"])
    out = CheckoutPlaced(
        order_id=record["id"], status=record["status"],
        quote=CheckoutQuote(store_id=body.store_id, member_level=record["member_level"], **{k: v for k, v in quote.items() if k != "flash_units"}),
        payment=Payment(intent=record["id"], amount_cents=int(record["total_cents"]), expires_at=dt(float(record["created"]) + cfg.payment_minutes),  # type: ignore[arg-type]
                        pay_url=f"/payments/{record['id']}/simulate"),
    )
    return out.model_dump(mode="json")


async def place_once(shop: Shop, r: Any, cfg: Any, who: Any, body: CheckoutRequest, key: str | None) -> tuple[int, Any]:
    """``POST /checkout/orders`` without HTTP: place the checkout, once per ``Idempotency-Key``."""

    def answer(record: dict[str, Any]) -> tuple[int, Any]:
        return 201, placed_out(record, body, cfg)

    async def work() -> tuple[int, Any]:
        record = await shop.place(who, body, answer=answer)
        await svc.audit(r, who, "place_order", record["id"], total=record["total_cents"])
        return answer(record)

    return await run_once(r, who.user, key, body.model_dump(mode="json"), work)


@router.get("/checkout/orders/{order_id}", operation_id="get_checkout")
async def get_checkout(order_id: str, request: Request, cfg: Config, who: Caller) -> dict[str, Any]:
    """A checkout's state (awaiting_payment, paid, payment_failed, expired, cancelled) and its price lines;
    ``refunded_cents`` (what was paid back of the order's payment) and ``returned_cents`` (payments the order did not
    keep: a second, late or wrong-amount payment, returned whole to the payer); once paid,
    ``tracking`` (token, url, ws): the order's login-free tracking link, as ``POST /orders`` gives it."""
    try:
        c = await shop_of(request).load(order_id)
    except CommerceError as exc:
        raise refuse(exc) from None
    if who.role not in ("admin", "planner") and c["customer"] != who.user:
        raise HTTPException(403, f"order {order_id} is not yours")
    out = {"order_id": order_id, "status": c["status"], "total_cents": int(c["total_cents"]), "quote": json.loads(c["quote"]),
           "refunded_cents": int(c.get("refunded_cents", 0)), "returned_cents": int(c.get("returned_cents", 0)),
           "lines": json.loads(c["lines"])}
    if c["status"] == "paid":  # the order exists in dispatch from payment on
        token = tracking_token(order_id, cfg.tracking_secret, cfg.tracking_token_hours)
        out["tracking"] = {"token": token, "url": f"/track/{order_id}?token={token}", "ws": f"/ws/track/{order_id}?token={token}"}
    return out


@router.post("/checkout/orders/{order_id}/cancel", operation_id="cancel_checkout")
async def cancel_checkout(order_id: str, request: Request, r: Redis, who: Customer) -> dict[str, Any]:
    """Cancel an order: before payment everything held is released; after payment, before pickup, it is refunded."""
    shop = shop_of(request)
    try:
        c = await shop.load(order_id)
        if who.role != "admin" and c["customer"] != who.user:
            raise HTTPException(403, f"order {order_id} is not yours")
        refund = await shop.cancel(order_id, who)
    except (CommerceError, svc.OrderError) as exc:
        raise refuse(exc) from None
    await svc.audit(r, who, "cancel_order", order_id, refund=refund)
    return {"order_id": order_id, "status": "cancelled", "refund_cents": refund}


# -- payments ----------------------------------------------------------------------------------
@router.post("/payments/webhook", operation_id="payment_webhook", responses={400: {"description": "bad or stale signature"}})
async def webhook(request: Request, cfg: Config,
                  signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None) -> dict[str, Any]:
    """The payment provider's callback. Verified by its HMAC signature; each event id is applied once."""
    body = await request.body()
    if len(body) > 16_384:
        raise HTTPException(413, "a webhook body is at most 16 KiB")
    try:
        event = parse_webhook(body, signature, cfg.payment_secret, int(time.time()))
    except CommerceError as exc:
        raise HTTPException(400, {"code": exc.code, "detail": exc.detail}) from None
    shop = shop_of(request)
    if event.succeeded:  # applied once per event in the same script that applies it (``Shop.paid``)
        try:
            result = await shop.paid(event.order_id, event.amount_cents, event.id)
        except CommerceError as exc:
            raise refuse(exc) from None
        return {"event": event.id, "result": result}
    try:
        result = await shop.payment_failed(event.order_id, event.id)
    except CommerceError as exc:
        raise refuse(exc) from None
    return {"event": event.id, "result": result}


@router.post("/payments/{order_id}/simulate", operation_id="simulate_payment")
async def simulate(order_id: str, request: Request, cfg: Config, who: Customer, body: SimulatedPayment | None = None) -> dict[str, Any]:
    """The simulated provider's pay page: it signs a webhook for this order and delivers it to ``/payments/webhook``."""
    shop = shop_of(request)
    try:
        c = await shop.load(order_id)
    except CommerceError as exc:
        raise refuse(exc) from None
    if who.role != "admin" and c["customer"] != who.user:
        raise HTTPException(403, f"order {order_id} is not yours")
    provider = SimulatedProvider(cfg.payment_secret)
    intent = provider.adopt(PaymentIntent(order_id, order_id, int(c["total_cents"]), float(c["created"])))
    payload, headers = provider.webhook(intent, (body or SimulatedPayment()).outcome)
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provider") as client:
        reply = await client.post("/payments/webhook", content=payload, headers={**headers, "Content-Type": "application/json"})
    return {"delivered": reply.status_code, "reply": reply.json()}


# -- points and flash sales --------------------------------------------------------------------
@router.get("/members/me", operation_id="my_membership")
async def me(request: Request, r: Redis, who: Customer) -> dict[str, Any]:
    """Level (by spend), points balance and the latest ledger entries."""
    shop = shop_of(request)
    level = await shop.member_level(who.user)
    return {"customer": who.user, "level": level.name, "discount_bp": level.discount_bp,
            "spend_cents": int(await r.get(f"spend:{who.user}") or 0), "points": await shop.wallet.balance(who.user),
            "ledger": await shop.wallet.ledger(who.user, 50)}


@router.post("/shop/flash-sales", status_code=201, operation_id="create_flash_sale",
             responses={200: {"description": "the same sale (open, same price and limit) again: its units by the difference"},
                        409: {"description": "fewer units than the sale already sold or checkouts hold"}})
async def create_flash_sale(request: Request, r: Redis, admin: Admin, body: dict[str, Any]) -> Any:
    """Admins open a flash sale: ``store_id``, ``sku``, ``price_cents``, ``units`` (the stock it sells), ``per_customer_limit``, ``minutes``.

    201 a new sale: the SKU's shelf is ``units`` less what checkouts awaiting payment hold of it. The same sale again (it
    is open, at the same price and limit; a retry) is 200 and the same sale: its start, end and per-customer counts kept,
    its shelf moved only by the difference of ``units`` (a retry: not at all), so what it sold is never sold twice;
    409 ``flash_units_taken`` for fewer units than it sold or checkouts hold. ``stock``: the shelf after."""
    from actors.live_host import minutes_now

    shop = shop_of(request)
    try:
        store_id, sku = str(body["store_id"]), str(body["sku"])
        price, units, limit, minutes = int(body["price_cents"]), int(body["units"]), int(body.get("per_customer_limit", 1)), float(body.get("minutes", 60))
        shop.catalog.item(store_id, sku)
        if price <= 0 or units < 0 or limit < 1 or minutes <= 0:
            raise ValueError("price_cents > 0, units >= 0, per_customer_limit >= 1, minutes > 0")
    except (KeyError, ValueError, TypeError) as exc:
        raise HTTPException(422, f"a flash sale needs store_id, sku, price_cents, units: {exc}") from None
    except CommerceError as exc:
        raise refuse(exc) from None
    now = minutes_now()
    try:
        opened = await promotions.open_flash_sale(r, FlashSale(store_id, sku, price, now, now + minutes, limit), units)
    except CommerceError as exc:
        raise refuse(exc) from None
    await svc.audit(r, admin, "create_flash_sale" if opened.new else "reopen_flash_sale", f"{store_id}/{sku}", units=units, stock=opened.stock)
    sale = opened.sale
    out = {"store_id": store_id, "sku": sku, "price_cents": sale.price_cents, "units": opened.units, "per_customer_limit": sale.per_customer_limit,
           "ends": dt(sale.ends), "stock": opened.stock, "new": opened.new}
    return JSONResponse(jsonable_encoder(out), status_code=201 if opened.new else 200)
