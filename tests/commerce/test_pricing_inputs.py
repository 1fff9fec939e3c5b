"""Bad pricing input is refused with a CommerceError code; money display and half-up percentages."""
from __future__ import annotations

from typing import Any

import pytest
from pricing_fixtures import CATEGORY, PRICES, quote

from commerce.errors import CommerceError
from commerce.money import pct, yuan
from commerce.pricing import CartLine, Coupon, FlashSale, MemberLevel, ReductionTier, price_cart
from dispatch.errors import DomainError


def codes_of(fn: Any) -> str:
    with pytest.raises(CommerceError) as err:
        fn()
    assert err.value.detail  # a sentence for a human
    assert isinstance(err.value, DomainError)
    return err.value.code


@pytest.mark.parametrize("qty", [0, -1, 1.5, True, "2"])
def test_quantity_must_be_a_positive_int(qty: Any) -> None:
    assert codes_of(lambda: quote({"apple": qty})) == "bad_quantity"


def test_empty_cart() -> None:
    assert codes_of(lambda: quote({})) == "empty_cart"


def test_unknown_sku_from_a_raising_lookup() -> None:
    assert codes_of(lambda: quote({"ghost": 1})) == "unknown_sku"  # PRICES["ghost"] raises KeyError


def test_lookup_commerce_error_passes_through() -> None:
    def not_sold_here(sku: str) -> int:
        raise CommerceError("not_sold_here", f"{sku} is not sold in s1")

    assert codes_of(lambda: quote({"apple": 1}, unit_price=not_sold_here)) == "not_sold_here"


def test_unknown_category_only_matters_for_a_restricted_coupon() -> None:
    prices = {**PRICES, "mystery": 100}
    assert quote({"mystery": 1}, unit_price=prices.__getitem__).total_cents == 600  # 100 + 500, category never asked
    coupon = Coupon("FRUIT", "fixed", 50, categories=frozenset({"fruit"}))
    assert codes_of(lambda: quote({"mystery": 1}, unit_price=prices.__getitem__, coupon=coupon)) == "unknown_sku"


@pytest.mark.parametrize("price", [-1, 12.5, None])
def test_bad_price_from_the_lookup(price: Any) -> None:
    assert codes_of(lambda: quote({"apple": 1}, unit_price=lambda sku: price)) == "bad_price"


def test_negative_flash_bought() -> None:
    assert codes_of(lambda: quote({"apple": 1}, flash_bought={"apple": -1})) == "bad_input"


def test_lines_must_be_cart_lines() -> None:
    assert codes_of(lambda: price_cart([("apple", 1)], store_id="s1", unit_price=PRICES.__getitem__,  # type: ignore[list-item]
                                       category_of=CATEGORY.__getitem__, now=0)) == "bad_line"


@pytest.mark.parametrize(("make", "code"), [
    (lambda: CartLine("", 1), "bad_line"),
    (lambda: ReductionTier(3000, 0), "bad_tier"),
    (lambda: ReductionTier(3000, 3001), "bad_tier"),  # a tier never takes off more than its threshold
    (lambda: FlashSale("s1", "apple", -1, 0, 10), "bad_flash_sale"),
    (lambda: FlashSale("s1", "apple", 999, 10, 10), "bad_flash_sale"),
    (lambda: FlashSale("s1", "apple", 999, 0, 10, per_customer_limit=0), "bad_flash_sale"),
    (lambda: MemberLevel("x", 0, 10001), "bad_member_level"),
    (lambda: MemberLevel("x", -1, 100), "bad_member_level"),
])
def test_bad_definitions(make: Any, code: str) -> None:
    assert codes_of(make) == code


@pytest.mark.parametrize(("cents", "text"), [
    (1230, "¥12.30"), (0, "¥0.00"), (5, "¥0.05"), (100, "¥1.00"), (-1230, "-¥12.30"), (123456789, "¥1234567.89"),
])
def test_yuan(cents: int, text: str) -> None:
    assert yuan(cents) == text


@pytest.mark.parametrize(("cents", "bp", "out"), [
    (1250, 500, 63),   # 62.5 -> 63 (half-up; banker's rounding would give 62)
    (1230, 500, 62),   # 61.5 -> 62
    (1229, 500, 61),   # 61.45 -> 61
    (3399, 1500, 510),  # 509.85 -> 510
    (1, 5000, 1),      # 0.5 -> 1
    (1, 4999, 0),      # 0.4999 -> 0
    (0, 500, 0),
    (1000, 10000, 1000),
    (-1250, 500, -63),  # symmetric: half away from zero
])
def test_pct_rounds_half_up(cents: int, bp: int, out: int) -> None:
    assert pct(cents, bp) == out
