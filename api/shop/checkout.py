"""Checkout: quote -> place (idempotent) -> pay (a signed webhook) -> the paid order enters dispatch.

Placing reserves everything the order takes in one Lua script with the checkout itself (``PLACE``):
the delivery slot, the stock, one use of the coupon, the points (a ledger entry); the order is
placed whole or nothing is held, whenever the worker dies.
The checkout then waits for its payment for ``Settings.payment_minutes``; the sweeper releases what an
unpaid checkout holds. A verified ``payment.succeeded`` webhook commits the stock and hands the
order to its region's dispatcher; a failed one releases everything. Cancelling a paid order
before pickup gives back stock, coupon and points and records the refund, in one script with the
decision and the cancellation it queues for dispatch (``CANCEL_PAID``), so the refund goes only to
an order the dispatcher cancels. Each give-back (failed, expired, cancelled) is one Lua script with
the state change (``GIVE_BACK``): whole or not at all, and exactly once.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from collections.abc import Callable
from typing import Any

from actors import live_keys as K
from actors.live_host import epoch_s, minutes_now
from api import orders as svc
from api.security import Principal
from api.settings import Settings
from api.shop import promotions
from api.idempotency import CLAIM_HELD_FN, LOST, IdempotencyError, current_claim
from api.idempotency import TTL_S as ANSWER_TTL_S
from api.shop.inventory import COMMIT_FN, RELEASE_FN, RESERVE_FN, Inventory, expiring_key, limit_key, reservation_key, sold_key, stock_key
from api.shop.inventory import Line as StockLine
from api.shop.models import CheckoutQuote, CheckoutRequest, PriceLineOut
from api.shop.wallet import COUPON_FN, POINTS_FN, Wallet, coupon_uses_key, points_keys
from commerce.errors import CommerceError
from commerce.membership import level_for
from commerce.pricing import CartLine, DeliveryFee, PriceQuote, merge_lines, price_cart

log = logging.getLogger(__name__)
EXPIRING = "checkout:expiring"  # zset checkout id -> unix s when its payment window closes

# KEYS: checkout hash; ARGV: from, to. A checkout changes state once: the sweeper, a webhook and a
# cancellation may race for it, and exactly one of them wins.
MOVE = """
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
return 1
"""


# KEYS: checkout hash, EXPIRING, stock, reservation, reservation expiring, coupon uses, points balance, ledger, refs, slot,
# idempotency claim (each of the last ones the checkout hash when the order has none), then per line its flash limit key (or
# the stock key). ARGV: checkout id, customer, expires (unix s), coupon ('' none), its per-customer limit, points, at, with
# slot (0/1), slot capacity, slot ttl, claim owner ('' no claim), answer status, answer body, answer ttl, line count, per line sku,
# qty, limit (0: none), then the checkout record as field, value, field, value...
# Placing is one script: it checks everything the order takes (slot capacity, stock and flash limits, the coupon's uses,
# the points) before it takes any of it, then takes all of it and writes the checkout, so a worker that dies cannot leave
# stock, a coupon use, points or a slot held by an order that does not exist. With an idempotency claim it stores the
# request's answer in the same step (``api.idempotency``), and only while the request still holds its claim: a retry finds
# the order placed, never places another.
PLACE = CLAIM_HELD_FN + RESERVE_FN + COUPON_FN + POINTS_FN + """
if ARGV[11] ~= '' and not claim_held(KEYS[11], ARGV[11]) then return {3, '', 'claim_lost'} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {2, '', 'exists'} end
local n = tonumber(ARGV[15])
local with_slot = ARGV[8] == '1'
if with_slot and tonumber(redis.call('GET', KEYS[10]) or '0') >= tonumber(ARGV[9]) then return {0, '', 'slot_full'} end
local lines = reserve_lines(KEYS, ARGV, 12, 16, n)
local refused = reserve_check(KEYS[3], lines)
if refused then return {0, refused[1], refused[2]} end
if ARGV[4] ~= '' and tonumber(redis.call('HGET', KEYS[6], ARGV[2]) or '0') + 1 > tonumber(ARGV[5]) then
  return {0, ARGV[4], 'coupon_used_up'}
end
local pts = tonumber(ARGV[6])
if pts > 0 then
  local bal = tonumber(redis.call('GET', KEYS[7]) or '0')
  if bal < pts then return {0, tostring(bal), 'insufficient_points'} end
end
if with_slot then
  redis.call('INCR', KEYS[10])
  redis.call('EXPIRE', KEYS[10], ARGV[10])
end
reserve_take(KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[3], lines)
if ARGV[4] ~= '' then coupon_use(KEYS[6], ARGV[2], tonumber(ARGV[5]), 1) end
if pts > 0 then points(KEYS[7], KEYS[8], KEYS[9], -pts, 'spend', ARGV[1], ARGV[7]) end
local record = {}
for i = 16 + 3 * n, #ARGV do record[#record + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(record))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[11], 'status', ARGV[12], 'body', ARGV[13])
  redis.call('EXPIRE', KEYS[11], ARGV[14])
end
return {1, '', ''}
"""


# KEYS: the payment event's key, checkout hash, EXPIRING, reservation, reservation expiring, sold, spend, refunds stream,
# then ``api.orders.enqueue_keys`` (order hash, customer index, store index, region stream). ARGV: event ttl, checkout id,
# cents paid, at, then the order's score (placed at), payload JSON, record as field, value, ...
# A payment is applied in one step: the event marked applied, and either the payment returned (a wrong amount, or a
# checkout no longer awaiting payment) or the checkout paid, its stock sold, its spend counted and the order handed to
# dispatch. Before, these were five round trips after the event was marked: a worker killed between them left a paid
# checkout that was never dispatched, and the provider's retry was answered "duplicate".
# Returns {2, ''} the event was applied before; {0, reason} returned; {1, ''} paid and dispatched.
PAID = COMMIT_FN + svc.ENQUEUE_FN + """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {2, ''} end
local status = redis.call('HGET', KEYS[2], 'status')
local cents = tonumber(ARGV[3])
local reason = nil
if tonumber(redis.call('HGET', KEYS[2], 'total_cents')) ~= cents then reason = 'amount mismatch'
elseif status ~= 'awaiting_payment' then reason = 'paid while ' .. tostring(status) end
if reason then
  redis.call('XADD', KEYS[8], '*', 'order', ARGV[2], 'cents', cents, 'reason', reason, 'kind', 'returned_payment', 'at', ARGV[4])
  redis.call('HINCRBY', KEYS[2], 'returned_cents', cents)
  redis.call('HINCRBY', KEYS[2], 'returned_payments', 1)
  return {0, reason}
end
redis.call('HSET', KEYS[2], 'status', 'paid')
commit_reservation(KEYS[4], KEYS[5], KEYS[6], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('INCRBY', KEYS[7], tonumber(redis.call('HGET', KEYS[2], 'goods_paid_cents')))
local record = {}
for i = 7, #ARGV do record[#record + 1] = ARGV[i] end
enqueue(KEYS[9], KEYS[10], KEYS[11], KEYS[12], ARGV[5], ARGV[2], ARGV[6], record)
return {1, ''}
"""
EVENT_TTL_S = 7 * 86400


def webhook_event_key(event_id: str) -> str:
    """Set once a payment provider's event is applied (``PAID``), so the provider's retries of it apply nothing."""
    return f"webhook-event:{event_id}"


# The give-back as a Lua function, so a larger script (``CANCEL_PAID``) runs the very same steps.
# k: checkout hash, EXPIRING, stock, reservation, reservation expiring, sold, coupon uses, points balance, ledger, refs, slot,
# refunds stream, spend. a: from, to, checkout id, customer, coupon ('' none), points, with slot (0/1), refund cents (0: none),
# refund reason, goods paid cents (the spend to take back with a refund), at.
# The checkout leaves ``from`` for ``to`` and gives back everything it held in one script: Redis runs it whole or not at
# all, so a worker that dies cannot leave it half done, and once moved a second run finds ``to`` and gives back nothing.
GIVE_BACK_FN = RELEASE_FN + COUPON_FN + POINTS_FN + """
local function give_back(k, a)
  if redis.call('HGET', k[1], 'status') ~= a[1] then return 0 end
  redis.call('HSET', k[1], 'status', a[2])
  redis.call('ZREM', k[2], a[3])
  release(k[3], k[4], k[5], k[6], a[3])
  if a[5] ~= '' then coupon_use(k[7], a[4], 0, -1) end
  local pts = tonumber(a[6])
  if pts > 0 then points(k[8], k[9], k[10], pts, 'refund_spend', a[3], a[11]) end
  if a[7] == '1' then redis.call('DECR', k[11]) end
  local refund = tonumber(a[8])
  if refund > 0 then
    redis.call('XADD', k[12], '*', 'order', a[3], 'cents', refund, 'reason', a[9], 'at', a[11])
    redis.call('HINCRBY', k[1], 'refunded_cents', refund)
    redis.call('DECRBY', k[13], tonumber(a[10]))
  end
  return 1
end
"""

# KEYS and ARGV: those of ``give_back``.
GIVE_BACK = GIVE_BACK_FN + """
return give_back(KEYS, ARGV)
"""

# KEYS: those of ``give_back``, then the dispatch order hash, its region's input stream. ARGV: those of ``give_back`` (from
# paid to cancelled, with the slot and the refund), then who cancels, the cancel entry's JSON.
# A paid order cancelled is one step: the decision (the checkout is paid, the order not picked up, no pickup reported, no
# cancellation queued yet: ``api.orders.CANCEL_FN``) and everything it books (the cancellation queued for the dispatcher,
# the slot, stock, coupon and points given back, the refund recorded). Two cancellations at once, a cancellation racing the
# courier's pickup, a worker killed half way: one refund or none, and the refund only for an order the dispatcher cancels.
# Returns {1, ''} cancelled; {0, checkout status} the checkout was not paid; else the codes of ``request_cancel`` less 10.
CANCEL_PAID = GIVE_BACK_FN + svc.CANCEL_FN + """
local checkout = redis.call('HGET', KEYS[1], 'status')
if checkout ~= ARGV[1] then return {0, checkout or ''} end
local queued = request_cancel(KEYS[14], KEYS[15], '', ARGV[12], ARGV[13])
if queued[1] ~= 1 then return {queued[1] - 10, queued[2]} end
give_back(KEYS, ARGV)
return {1, ''}
"""


def checkout_key(order_id: str) -> str:
    return f"checkout:{order_id}"


def spend_key(customer: str) -> str:
    return f"spend:{customer}"


def sale_id(sale: Any) -> str:
    """A flash sale's identity for its per-customer counters: its start (a later sale of the SKU counts afresh)."""
    return repr(float(sale.starts))


class Shop:
    """The shop's Redis-backed services for one API worker."""

    def __init__(self, redis: Any, settings: Settings, catalog: Any) -> None:
        self.r, self.cfg, self.catalog = redis, settings, catalog
        self.inventory = Inventory(redis)
        self.wallet = Wallet(redis)
        self._move = redis.register_script(MOVE)
        self._give_back_script = redis.register_script(GIVE_BACK)
        self._place = redis.register_script(PLACE)
        self._paid = redis.register_script(PAID)
        self._cancel_paid = redis.register_script(CANCEL_PAID)

    # -- pricing -----------------------------------------------------------------------------
    async def member_level(self, customer: str) -> Any:
        return level_for(int(await self.r.get(spend_key(customer)) or 0))

    async def price(self, who: Principal, body: CheckoutRequest, distance_m: float) -> tuple[PriceQuote, Any]:
        store = self.catalog.store(body.store_id)
        for line in body.lines:
            self.catalog.item(store.id, line.sku)  # unknown sku or not sold here: CommerceError
        coupon = None
        uses = 0
        if body.coupon:
            coupon = await promotions.coupon(self.r, body.coupon)
            if coupon is None:
                raise CommerceError("unknown_coupon", f"there is no coupon {body.coupon!r}")
            uses = await self.wallet.coupon_uses(coupon.code, who.user)
        flash = await promotions.flash_sales(self.r, store.id)
        bought = {}
        for f in flash:
            bought[f.sku] = int(await self.r.get(limit_key(store.id, f.sku, who.user, sale_id(f))) or 0)
        level = await self.member_level(who.user)
        balance = await self.wallet.balance(who.user) if body.points else 0
        tree = self.catalog.categories
        quote = price_cart(
            [CartLine(line.sku, line.qty) for line in body.lines], store_id=store.id,
            unit_price=lambda sku: self.catalog.item(store.id, sku).price_cents, category_of=self.catalog.category_of,
            now=minutes_now(), member=level, coupon=coupon, coupon_uses=uses, tiers=promotions.tiers_for(store.id),
            flash=flash, flash_bought=bought, points=body.points, points_balance=balance, distance_m=distance_m,
            mode=body.mode, fees=DeliveryFee(), category_matches=lambda cat, cats: bool(set(tree.ancestors(cat)) & cats) or cat in cats,
        )
        return quote, level

    def quote_out(self, store_id: str, quote: PriceQuote, level: Any) -> CheckoutQuote:
        return CheckoutQuote(
            store_id=store_id, lines=[PriceLineOut(**asdict(line)) for line in quote.lines], goods_cents=quote.goods_cents,
            discount_cents=quote.discount_cents, points_used=quote.points_used, points_cents=quote.points_cents,
            delivery_cents=quote.delivery_cents, total_cents=quote.total_cents, coupon=quote.coupon, member_level=level.name,
        )

    # -- place -------------------------------------------------------------------------------
    async def place(self, who: Principal, body: CheckoutRequest, *,
                    answer: Callable[[dict[str, Any]], tuple[int, Any]] | None = None) -> dict[str, Any]:
        """Reserve slot, stock, coupon and points and open the payment: all or nothing, in one script (``PLACE``).

        Everything before the script only reads (the price, the flash sales) or burns an order id, so a worker that dies
        at any point has placed the whole order or held nothing. With ``answer`` and the request's idempotency claim held
        (``api.idempotency.current_claim``) the script also stores ``answer(record)`` there, so a retry gets this order.
        """
        plan = await svc.plan_delivery(self.r, self.cfg, body.store_id, body.dropoff, body.mode, body.slot_start, body.deliver_at)
        quote, level = await self.price(who, body, plan.distance_m)
        order_id = await svc.new_order_id(self.r)
        flash = {f.sku: f for f in await promotions.flash_sales(self.r, body.store_id)}
        stock_lines = []
        for line in _merged(body):
            sale = flash.get(line.sku)
            if line.sku not in quote.flash_units or sale is None:
                stock_lines.append(StockLine(line.sku, line.qty))
                continue
            # The limit caps units at the flash price (docs/pricing.md step 1: the rest of the quantity is at the store
            # price), and the script counts the line's whole quantity: its headroom is the limit plus the units the quote
            # priced at the store price, so a cart the quote accepted is reserved as quoted, and an order priced at the
            # flash price before a concurrent one was reserved is still refused (limit_reached).
            at_store_price = line.qty - quote.flash_units[line.sku]
            stock_lines.append(StockLine(line.sku, line.qty, sale.per_customer_limit + at_store_price, sale_id(sale)))
        coupon_limit = 1
        if quote.coupon:
            coupon = await promotions.coupon(self.r, quote.coupon)
            coupon_limit = coupon.per_customer_limit if coupon else 1
        expires = epoch_s(minutes_now() + self.cfg.payment_minutes)
        record = {
            "id": order_id, "status": "awaiting_payment", "customer": who.user, "store": body.store_id,
            "lines": json.dumps([line.model_dump() for line in _merged(body)]), "quote": json.dumps(_quote_dict(quote)),
            "coupon": quote.coupon or "", "points": quote.points_used, "total_cents": quote.total_cents,
            "goods_paid_cents": quote.total_cents - quote.delivery_cents, "mode": body.mode, "slot": plan.slot or "",
            "plan": json.dumps({"lat": plan.door.lat, "lng": plan.door.lng, "earliest": plan.window.earliest,
                                "promise": plan.window.promise, "latest": plan.window.latest, "distance_m": plan.distance_m}),
            "size": max(1, min(4, sum(line.qty for line in body.lines) // 6 + 1)), "note": body.note,
            "member_level": level.name, "expires_s": expires, "created": minutes_now(),
        }
        store, me, here = body.store_id, who.user, checkout_key(order_id)
        claim = current_claim() if answer else None
        status, out = answer(record) if claim and answer else (0, None)
        keys = [here, EXPIRING, stock_key(store), reservation_key(store, order_id), expiring_key(store),
                coupon_uses_key(quote.coupon) if quote.coupon else here, *points_keys(me), plan.slot or here, claim.name if claim else here]
        keys += [limit_key(store, line.sku, me, line.sale) if line.limit else stock_key(store) for line in stock_lines]
        args: list[Any] = [order_id, me, expires, quote.coupon or "", coupon_limit, quote.points_used, minutes_now(),
                           "1" if plan.slot else "0", plan.slot_capacity, svc.SLOT_TTL_S, claim.owner if claim else "",
                           status, json.dumps(out, default=str) if out is not None else "", ANSWER_TTL_S, len(stock_lines)]
        for line in stock_lines:
            args += [line.sku, line.qty, line.limit]
        for field, value in record.items():
            args += [field, value]
        code, what, reason = await self._place(keys=keys, args=args)
        what, reason = _text(what), _text(reason)
        if int(code) == 0:
            if reason == "slot_full":
                raise svc.OrderError(409, svc.SLOT_FULL)
            if reason == "coupon_used_up":
                raise CommerceError("coupon_used_up", f"coupon {quote.coupon} was already used {coupon_limit} time(s)")
            if reason == "insufficient_points":
                raise CommerceError("insufficient_points", f"{me} has {what} points, not {quote.points_used}")
            raise CommerceError(reason, f"{what}: {reason.replace('_', ' ')}")
        if int(code) == 3:
            raise IdempotencyError(409, LOST)
        if int(code) != 1:  # an order id is taken once (INCR): a checkout already under it is not this request's
            raise RuntimeError(f"checkout {order_id} already exists")
        return record

    # -- pay ---------------------------------------------------------------------------------
    async def paid(self, order_id: str, amount_cents: int, event_id: str) -> str:
        """A verified payment, applied once per ``event_id`` in one script (``PAID``): "dispatched" (the stock sold and
        the order handed to dispatch), "refunded_mismatch" or "refunded_<status>" (the payment returned), "duplicate"."""
        c = await self.load(order_id)
        who = Principal(c["customer"], "customer", c["customer"])
        plan = json.loads(c["plan"])
        store = await svc.store_of(self.r, c["store"])
        from dispatch.geo import Location
        from dispatch.modes import DeliveryWindow

        delivery = svc.DeliveryPlan(store, Location(plan["lat"], plan["lng"]), plan["distance_m"], c["mode"],
                                    DeliveryWindow(plan["earliest"], plan["promise"], plan["latest"]), c["slot"] or None, float(c["created"]),
                                    self.cfg.slot_capacity)  # the slot was taken at checkout: its capacity no longer matters
        quote = json.loads(c["quote"])
        record, payload = svc.order_entry(self.cfg, who, delivery, order_id, size=int(c["size"]), fee=quote["delivery_cents"],
                                          note=c["note"], extra={"total_cents": c["total_cents"], "checkout": "1"})
        keys = [webhook_event_key(event_id), checkout_key(order_id), EXPIRING,
                reservation_key(c["store"], order_id), expiring_key(c["store"]), sold_key(c["store"]), spend_key(c["customer"]), "refunds",
                *svc.enqueue_keys(who, record)]
        code, reason = await self._paid(keys=keys, args=[EVENT_TTL_S, order_id, int(amount_cents), minutes_now(), record["placed_at"],
                                                         json.dumps(payload), *svc.flat(record)])
        code, reason = int(code), _text(reason)
        if code == 2:
            return "duplicate"
        if code == 0:
            log.warning("checkout %s: payment of %d returned (%s)", order_id, amount_cents, reason)
            return "refunded_mismatch" if reason == "amount mismatch" else "refunded_" + reason.removeprefix("paid while ")
        return "dispatched"

    async def payment_failed(self, order_id: str, event_id: str) -> str:
        """A ``payment.failed`` event: give back what the checkout held, once (``GIVE_BACK`` moves it from
        awaiting_payment). The event is marked only after, so a worker killed in between leaves the give-back to
        the provider's retry rather than answering it "duplicate" with nothing given back."""
        if await self.r.exists(webhook_event_key(event_id)):
            return "duplicate"
        released = await self._give_back(order_id, "awaiting_payment", "payment_failed", with_slot=True)
        await self.r.set(webhook_event_key(event_id), 1, ex=EVENT_TTL_S)
        return "released" if released else "ignored"

    async def expire(self, now_s: float) -> int:
        """Release what unpaid checkouts past their window hold (any worker may run this; one wins each)."""
        done = 0
        for order_id in [m.decode() for m in await self.r.zrangebyscore(EXPIRING, "-inf", now_s, start=0, num=200)]:
            if await self._give_back(order_id, "awaiting_payment", "expired", with_slot=True):
                done += 1
            else:  # paid, cancelled or released meanwhile: nothing to sweep
                await self.r.zrem(EXPIRING, order_id)
        return done

    async def cancel(self, order_id: str, who: Principal) -> int:
        """``POST /checkout/orders/{id}/cancel`` (ownership checked by the caller): the refund in cents."""
        c = await self.load(order_id)
        if c["status"] == "awaiting_payment":
            if not await self.cancel_unpaid(order_id):
                raise CommerceError("not_paid", f"order {order_id} changed state meanwhile; look again")
            return 0
        if c["status"] == "paid":
            return await self.cancel_paid(order_id, who, c)
        raise CommerceError("too_late", f"order {order_id} is {c['status']}")

    async def cancel_paid(self, order_id: str, who: Principal, c: dict[str, str] | None = None) -> int:
        """A paid order cancelled before pickup: the cancellation queued for dispatch, slot, stock, coupon and points back,
        the refund recorded, all in one script (``CANCEL_PAID``). Returns the refund."""
        c = c or await self.load(order_id)
        order = await svc.load_order(self.r, order_id)  # its region (which does not change)
        refund = int(c["total_cents"])
        keys, args = self._give_back_call(c, order_id, "paid", "cancelled", with_slot=True, refund=(refund, f"cancelled by {who.user}"))
        keys += [K.order_key(order_id), K.inputs_key(int(order["region"], 16))]
        args += [who.user, svc.cancel_entry(order_id, who)]
        code, status = await self._cancel_paid(keys=keys, args=args)
        code, status = int(code), _text(status)
        if code == 1:
            return refund
        if code == 0:
            raise CommerceError("too_late", f"order {order_id} is {status}")
        if code == -11:  # the order is picked up, delivered or closed, or its pickup is reported
            raise CommerceError("too_late", f"order {order_id} is {status}; after pickup ask for a refund instead")
        raise svc.cancel_refused(order_id, code + 10, status)

    async def cancel_unpaid(self, order_id: str) -> bool:
        return await self._give_back(order_id, "awaiting_payment", "cancelled", with_slot=True)

    async def _give_back(self, order_id: str, frm: str, to: str, *, with_slot: bool, refund: tuple[int, str] | None = None,
                         c: dict[str, str] | None = None) -> bool:
        """Move the checkout ``frm`` -> ``to`` and give back all it holds (stock, flash limits, coupon use, points, and the
        slot ``with_slot``; a ``refund`` recorded with the spend it takes back) in one script (``GIVE_BACK``): all of it
        or none, exactly once. False when the checkout was not ``frm`` (another move won; nothing given back)."""
        c = c or await self.load(order_id)  # written once at placement: what it holds does not change
        keys, args = self._give_back_call(c, order_id, frm, to, with_slot=with_slot, refund=refund)
        return bool(await self._give_back_script(keys=keys, args=args))

    @staticmethod
    def _give_back_call(c: dict[str, str], order_id: str, frm: str, to: str, *, with_slot: bool,
                        refund: tuple[int, str] | None) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of ``give_back`` for checkout ``c``."""
        store, customer, coupon, slot = c["store"], c["customer"], c.get("coupon") or "", c.get("slot") or ""
        keys = [checkout_key(order_id), EXPIRING, stock_key(store), reservation_key(store, order_id), expiring_key(store),
                sold_key(store), coupon_uses_key(coupon) if coupon else checkout_key(order_id), *points_keys(customer),
                slot if with_slot and slot else checkout_key(order_id), "refunds", spend_key(customer)]
        cents, reason = refund or (0, "")
        args: list[Any] = [frm, to, order_id, customer, coupon, int(c.get("points") or 0), "1" if with_slot and slot else "0",
                           cents, reason, int(c["goods_paid_cents"]), minutes_now()]
        return keys, args

    async def load(self, order_id: str) -> dict[str, str]:
        raw = await self.r.hgetall(checkout_key(order_id))
        if not raw:
            raise CommerceError("unknown_order", f"no checkout {order_id}")
        return {k.decode(): v.decode() for k, v in raw.items()}


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _merged(body: CheckoutRequest) -> list[Any]:
    """Lines of one SKU merged (a cart may list it twice), as pricing merges them (``merge_lines``).

    The request already refused more than ``MAX_UNITS`` of a SKU over its lines, so the merged lines are valid ones.
    """
    from api.shop.models import Line

    return [Line(sku=s, qty=q) for s, q in merge_lines([CartLine(line.sku, line.qty) for line in body.lines]).items()]


def _quote_dict(q: PriceQuote) -> dict[str, Any]:
    return {"lines": [asdict(line) for line in q.lines], "goods_cents": q.goods_cents, "discount_cents": q.discount_cents,
            "points_used": q.points_used, "points_cents": q.points_cents, "delivery_cents": q.delivery_cents,
            "total_cents": q.total_cents, "coupon": q.coupon, "flash_units": dict(q.flash_units)}
