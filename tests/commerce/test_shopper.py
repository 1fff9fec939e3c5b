"""The simulator's shoppers: valid baskets priced by price_cart, deterministic per seed, coupons only when they fit."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from commerce.catalog import Catalog, Category, Product, ShopStore, StoreItem
from commerce.demo_catalog import demo_catalog
from commerce.errors import CommerceError
from commerce.membership import LEVELS
from commerce.pricing import CartLine, Coupon, DeliveryFee, ReductionTier, price_cart
from commerce.promotions import DEFAULT_TIERS, DEMO_COUPONS
from commerce.shopper import Basket, Shopper

# a few of the demo city's stores: two noodle houses, a grocery, a cafe, the pharmacy
STORES = [
    ("s1", "Nanjing Road Noodle House", 31.2365, 121.4780),
    ("s11", "Xujiahui Beef Noodles", 31.1985, 121.4420),
    ("g1", "Fresh Market Puxi (grocery)", 31.2250, 121.4830),
    ("s6", "Huaihai Road Coffee", 31.2170, 121.4600),
    ("p1", "Renmin Pharmacy", 31.2300, 121.4600),
]
MODES = ("asap", "scheduled", "timed")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return demo_catalog(STORES)


def visits(shopper: Shopper, n: int, seed: int = 0) -> list[Basket]:
    """``n`` customers at random stores, modes and distances (the visit plan has its own seed)."""
    plan = random.Random(seed)
    return [shopper.basket(plan.choice(STORES)[0], 660.0, plan.choice(MODES), plan.uniform(0, 6000)) for _ in range(n)]


def reprice(catalog: Catalog, b: Basket, coupon: Coupon | None, mode: str, distance_m: float):
    level = next(level for level in LEVELS if level.name == b.member)
    return price_cart(
        b.lines, store_id=b.store_id, unit_price=lambda sku: catalog.item(b.store_id, sku).price_cents,
        category_of=catalog.category_of, now=660.0, member=level, coupon=coupon, tiers=DEFAULT_TIERS,
        distance_m=distance_m, mode=mode, category_matches=catalog.categories.matches,
    )


def test_baskets_are_valid_carts_of_the_store(catalog: Catalog) -> None:
    baskets = visits(Shopper(catalog, seed=1), 400)
    for b in baskets:
        sold = {i.sku for i in catalog.items(b.store_id)}
        skus = [line.sku for line in b.lines]
        assert 1 <= len(b.lines) <= 6 and len(set(skus)) == len(skus)
        assert set(skus) <= sold
        assert all(1 <= line.qty <= 3 for line in b.lines)
        assert b.items == sum(line.qty for line in b.lines)
        q = b.quote
        assert q.total_cents == sum(line.amount_cents for line in q.lines)
        assert q.goods_cents == sum(catalog.item(b.store_id, line.sku).price_cents * line.qty for line in b.lines)
        assert q.points_used == 0 and not q.flash_units
        assert b.value_cents == q.goods_cents - q.discount_cents > 0
        assert b.member in {level.name for level in LEVELS}
    assert {len(b.lines) for b in baskets} == {1, 2, 3, 4, 5, 6}
    assert {line.qty for b in baskets for line in b.lines} == {1, 2, 3}
    assert len({b.member for b in baskets}) >= 3


def test_the_delivery_fee_follows_distance_and_mode(catalog: Catalog) -> None:
    shopper, fees = Shopper(catalog, seed=2), DeliveryFee()
    for mode in MODES:
        for distance in (0.0, 1999.0, 2001.0, 4500.0):
            b = shopper.basket("s6", 600.0, mode, distance)
            assert b.quote.delivery_cents == fees.fee(distance, mode)
            assert b.quote.total_cents == b.value_cents + b.quote.delivery_cents


def test_same_seed_same_baskets_other_seed_other_baskets(catalog: Catalog) -> None:
    a, b, c = (visits(Shopper(catalog, seed=s), 120) for s in (5, 5, 6))
    assert a == b
    assert [x.lines for x in a] != [x.lines for x in c]


def test_a_coupon_applies_only_when_it_fits(catalog: Catalog) -> None:
    plan = random.Random(3)
    shopper = Shopper(catalog, seed=3, coupon_share=1.0)
    applied = refused = lost_to_tier = 0
    codes = {c.code: c for c in DEMO_COUPONS}
    for _ in range(400):
        store, mode, distance = plan.choice(STORES)[0], plan.choice(MODES), plan.uniform(0, 5000)
        b = shopper.basket(store, 660.0, mode, distance)
        assert b.tried_coupon in codes  # everyone tries one at coupon_share 1
        tried = codes[b.tried_coupon]
        if b.coupon is not None:
            assert b.coupon == b.tried_coupon
            assert reprice(catalog, b, tried, mode, distance) == b.quote  # the coupon fits: pricing accepts it
            assert any(line.code == "coupon" for line in b.quote.lines)
            applied += 1
            continue
        assert not any(line.code == "coupon" for line in b.quote.lines)
        try:
            with_coupon = reprice(catalog, b, tried, mode, distance)
        except CommerceError as exc:  # unfit: priced again without it
            assert exc.code.startswith("coupon_")
            assert reprice(catalog, b, None, mode, distance) == b.quote
            refused += 1
        else:  # fits, but the 满减 tier took off at least as much (docs/pricing.md, step 4)
            assert with_coupon == b.quote and with_coupon.coupon is None
            lost_to_tier += 1
    assert applied and refused and lost_to_tier


def test_coupon_share_zero_means_no_coupons(catalog: Catalog) -> None:
    baskets = visits(Shopper(catalog, seed=4, coupon_share=0.0), 200)
    assert all(b.tried_coupon is None and b.coupon is None for b in baskets)
    some = visits(Shopper(catalog, seed=4), 300)
    assert 0.02 < sum(b.coupon is not None for b in some) / len(some) < 0.5
    with pytest.raises(CommerceError):
        Shopper(catalog, coupon_share=1.5)


def test_grocery_baskets_are_bigger(catalog: Catalog) -> None:
    shopper = Shopper(catalog, seed=5)
    assert shopper.big_baskets("g1") and not shopper.big_baskets("s1") and not shopper.big_baskets("p1")
    grocery = [shopper.basket("g1", 600.0).items for _ in range(200)]
    noodles = [shopper.basket("s1", 600.0).items for _ in range(200)]
    assert sum(grocery) / 200 > 1.4 * sum(noodles) / 200


def test_best_sellers_and_promoted_items_are_drawn_more_often() -> None:
    store = ShopStore("x", "Test shop", 31.23, 121.47)
    products = [Product(sku, sku, sku, "food") for sku in ("a", "b", "c")]
    items = [
        StoreItem("x", "a", 1000, 10_000, rating=4.5, sales=100),
        StoreItem("x", "b", 1000, 10_000, rating=4.5, sales=100, promoted=True),
        StoreItem("x", "c", 1000, 10_000, rating=4.5, sales=400),
    ]
    shopper = Shopper(Catalog([store], [Category("food", "Food")], products, items), coupons=(), seed=6)
    first = Counter(shopper.fill("x")[0].sku for _ in range(3000))
    assert first["c"] > first["b"] > first["a"]


def test_stock_is_respected_and_runs_out() -> None:
    store = ShopStore("x", "Test shop", 31.23, 121.47)
    products = [Product("a", "a", "a", "food"), Product("b", "b", "b", "food")]
    items = [StoreItem("x", "a", 1000, 3, rating=4.5, sales=10), StoreItem("x", "b", 1000, 0, rating=4.9, sales=999)]
    shopper = Shopper(Catalog([store], [Category("food", "Food")], products, items), seed=7)
    assert shopper.sells("x")
    sold = 0
    while shopper.sells("x"):
        b = shopper.basket("x", 600.0)
        assert [line.sku for line in b.lines] == ["a"]  # b is sold out from the start
        sold += b.items
    assert sold == 3 and shopper.stock("x", "a") == 0
    with pytest.raises(CommerceError) as exc:
        shopper.fill("x")
    assert exc.value.code == "sold_out"
    with pytest.raises(CommerceError) as exc:
        shopper.checkout("x", [CartLine("a", 1)], 600.0)
    assert exc.value.code == "out_of_stock"


def test_unknown_stores_and_skus_are_refused(catalog: Catalog) -> None:
    shopper = Shopper(catalog, seed=8)
    assert not shopper.sells("nowhere")
    with pytest.raises(CommerceError):
        shopper.fill("nowhere")
    with pytest.raises(CommerceError):
        shopper.checkout("s1", [CartLine("coffee-latte", 1)], 600.0)  # the noodle house sells no coffee
    with pytest.raises(CommerceError):
        shopper.checkout("s1", [], 600.0)


def test_store_tiers_can_differ() -> None:
    catalog = demo_catalog(STORES)
    generous = (ReductionTier(100, 100),)  # ¥1 off anything
    shopper = Shopper(catalog, coupons=(), tiers=lambda s: generous if s == "s6" else (), seed=9)
    cafe, noodles = shopper.basket("s6", 600.0), shopper.basket("s1", 600.0)
    assert cafe.quote.discount_cents >= 100 and any(line.code == "reduction" for line in cafe.quote.lines)
    assert not any(line.code == "reduction" for line in noodles.quote.lines)
