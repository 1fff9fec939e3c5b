"""Catalog: the category tree, lookups and their errors, opening hours and reach, the store listings,
and the demo catalog built for the demo city's stores."""
from __future__ import annotations

import re

import h3
import pytest

from commerce.catalog import Catalog, Category, CategoryTree, Product, ShopStore, StoreItem
from commerce.demo_catalog import demo_catalog, kind_of
from commerce.errors import CommerceError
from dispatch.errors import DomainError

CATEGORIES = [
    Category("food", "Food"),
    Category("noodles", "Noodles", "food"),
    Category("drinks", "Drinks", "food"),
    Category("coffee", "Coffee", "drinks"),
    Category("tea", "Tea", "drinks"),
    Category("grocery", "Groceries"),
    Category("dairy", "Dairy", "grocery"),
]
PRODUCTS = [
    Product("beef-noodles", "Beef noodle soup", "牛肉面", "noodles", created_at=100.0),
    Product("scallion-noodles", "Scallion oil noodles", "葱油拌面", "noodles", created_at=300.0),
    Product("latte", "Caffe latte", "拿铁咖啡", "coffee", created_at=500.0),
    Product("milk-tea", "Pearl milk tea", "珍珠奶茶", "tea", created_at=200.0),
    Product("milk", "Organic milk 1 L", "有机牛奶", "dairy", created_at=400.0),
]
# A at People's Square; B 1.1 km north, lunch and dinner only; FAR 20 km out; NIGHT opens past midnight
HERE = (31.2320, 121.4700)
STORES = [
    ShopStore("A", "All-day noodles", 31.2320, 121.4700),
    ShopStore("B", "Lunch cafe", 31.2420, 121.4700, opens=600, closes=1320),
    ShopStore("FAR", "Far away", 31.4120, 121.4700, delivery_radius_m=5000),
    ShopStore("NIGHT", "Night noodles", 31.2340, 121.4700, opens=1320, closes=120, delivery_radius_m=3000),
]
ITEMS = [
    StoreItem("A", "beef-noodles", 2800, 50, rating=4.5, sales=900),
    StoreItem("A", "scallion-noodles", 1600, 40, rating=4.8, sales=300, promoted=True),
    StoreItem("A", "latte", 2600, 0, rating=4.9, sales=300),
    StoreItem("A", "milk-tea", 1600, 10, rating=4.2, sales=1200, promoted=True),
    StoreItem("A", "milk", 1880, 10, rating=4.0, sales=50),
    StoreItem("B", "latte", 2800, 20, rating=4.6, sales=700),
    StoreItem("NIGHT", "beef-noodles", 3000, 20, rating=4.1, sales=80),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(STORES, CATEGORIES, PRODUCTS, ITEMS)


def skus(items: list[StoreItem]) -> list[str]:
    return [i.sku for i in items]


# -- category tree -------------------------------------------------------------------------------

def test_descendants_include_the_category_and_everything_below() -> None:
    tree = CategoryTree(CATEGORIES)
    assert tree.descendants("food") == {"food", "noodles", "drinks", "coffee", "tea"}
    assert tree.descendants("drinks") == {"drinks", "coffee", "tea"}
    assert tree.descendants("coffee") == {"coffee"}
    assert "dairy" not in tree.descendants("food")


def test_ancestors_are_parent_first_and_a_root_has_none() -> None:
    tree = CategoryTree(CATEGORIES)
    assert tree.ancestors("coffee") == ("drinks", "food")
    assert tree.ancestors("dairy") == ("grocery",)
    assert tree.ancestors("food") == ()
    assert tree.path("coffee") == ("food", "drinks", "coffee")
    assert tree.roots() == ("food", "grocery")
    assert tree.children("drinks") == ("coffee", "tea")


def test_matches_is_membership_through_ancestors() -> None:
    tree = CategoryTree(CATEGORIES)
    assert tree.matches("coffee", frozenset({"food"}))
    assert tree.matches("coffee", frozenset({"coffee"}))
    assert not tree.matches("drinks", frozenset({"coffee"}))  # a parent is not inside its child
    assert not tree.matches("dairy", frozenset({"food", "tea"}))


@pytest.mark.parametrize("call", ["ancestors", "descendants", "children", "get", "path"])
def test_unknown_category_is_a_commerce_error(call: str) -> None:
    tree = CategoryTree(CATEGORIES)
    with pytest.raises(CommerceError) as err:
        getattr(tree, call)("nope")
    assert err.value.code == "unknown_category"
    assert "nope" in err.value.detail
    assert isinstance(err.value, DomainError)


@pytest.mark.parametrize("bad", [
    [Category("a", "A"), Category("a", "A again")],                   # defined twice
    [Category("a", "A", "missing")],                                  # unknown parent
    [Category("a", "A", "b"), Category("b", "B", "a")],               # a cycle
    [Category("a", "A", "a")],                                        # its own parent
])
def test_a_broken_tree_is_refused(bad: list[Category]) -> None:
    with pytest.raises(CommerceError) as err:
        CategoryTree(bad)
    assert err.value.code == "invalid_catalog"


# -- lookups -------------------------------------------------------------------------------------

def test_lookups_and_their_error_codes(catalog: Catalog) -> None:
    assert catalog.store("B").name == "Lunch cafe"
    assert catalog.product("latte").name_zh == "拿铁咖啡"
    assert catalog.item("B", "latte").price_cents == 2800
    assert catalog.category_of("milk") == "dairy"
    assert catalog.categories.ancestors(catalog.category_of("latte")) == ("drinks", "food")
    for call, code in [
        (lambda: catalog.store("Z"), "unknown_store"),
        (lambda: catalog.product("ghost"), "unknown_product"),
        (lambda: catalog.category_of("ghost"), "unknown_product"),
        (lambda: catalog.item("Z", "latte"), "unknown_store"),
        (lambda: catalog.item("A", "ghost"), "unknown_product"),
        (lambda: catalog.item("B", "milk"), "not_sold_here"),
    ]:
        with pytest.raises(CommerceError) as err:
            call()
        assert err.value.code == code


def test_catalog_refuses_inconsistent_data() -> None:
    with pytest.raises(CommerceError, match="unknown_category"):
        Catalog(STORES, CATEGORIES, [Product("x", "X", "某", "toys")], [])
    with pytest.raises(CommerceError) as err:
        Catalog(STORES, CATEGORIES, PRODUCTS, [StoreItem("Z", "milk", 100, 1)])
    assert err.value.code == "unknown_store"
    with pytest.raises(CommerceError) as err:
        Catalog(STORES, CATEGORIES, PRODUCTS, [StoreItem("A", "milk", 100, 1), StoreItem("A", "milk", 120, 1)])
    assert err.value.code == "invalid_catalog"
    with pytest.raises(CommerceError) as err:
        Catalog(STORES, CATEGORIES, [*PRODUCTS, PRODUCTS[0]], [])
    assert err.value.code == "invalid_catalog"


@pytest.mark.parametrize("kwargs", [
    {"price_cents": -1}, {"price_cents": 12.5}, {"price_cents": True}, {"stock": -3}, {"rating": 5.5}, {"sales": -1},
])
def test_store_item_values_are_checked(kwargs: dict) -> None:
    fields = {"store_id": "A", "sku": "milk", "price_cents": 100, "stock": 1} | kwargs
    with pytest.raises(CommerceError) as err:
        StoreItem(**fields)
    assert err.value.code == "invalid_catalog"


# -- stores: hours, reach, nearest ---------------------------------------------------------------

def test_opening_hours_include_the_opening_minute_and_exclude_the_closing_one() -> None:
    lunch = STORES[1]
    assert not lunch.is_open(599.9)
    assert lunch.is_open(600) and lunch.is_open(1319.9)
    assert not lunch.is_open(1320)
    assert lunch.is_open(600 + 1440)  # minutes past a day wrap onto the day


def test_hours_past_midnight_wrap() -> None:
    night = STORES[3]
    assert night.is_open(1380) and night.is_open(0) and night.is_open(119)
    assert not night.is_open(120) and not night.is_open(720)
    assert all(STORES[0].is_open(m) for m in (0, 359, 720, 1439))


def test_a_store_cannot_open_and_close_at_the_same_minute() -> None:
    with pytest.raises(CommerceError):
        ShopStore("x", "x", 31.2, 121.4, opens=600, closes=600)


def test_cell_and_covers() -> None:
    a = STORES[0]
    assert h3.is_valid_cell(a.cell()) and h3.get_resolution(a.cell()) == 8
    assert a.cell() == h3.latlng_to_cell(a.lat, a.lng, 8)
    assert h3.get_resolution(a.cell(6)) == 6
    assert a.covers(31.2320, 121.5200)        # ~4.7 km east
    assert not a.covers(31.2320, 121.5300)    # ~5.7 km east: past the 5 km radius


def test_stores_near_are_open_covering_and_nearest_first(catalog: Catalog) -> None:
    near_b = (31.2400, 121.4700)  # 0.2 km from B, 0.9 km from A
    assert [s.id for s in catalog.stores_near(*near_b, minute_of_day=720)] == ["B", "A"]
    assert [s.id for s in catalog.stores_near(*HERE, minute_of_day=720)] == ["A", "B"]


def test_stores_near_leave_out_closed_and_out_of_reach_stores(catalog: Catalog) -> None:
    at_night = [s.id for s in catalog.stores_near(*HERE, minute_of_day=1380)]
    assert at_night == ["A", "NIGHT"]  # B has closed; FAR is open but 20 km away
    assert [s.id for s in catalog.stores_near(31.4120, 121.4700, minute_of_day=720)] == ["FAR"]
    assert catalog.stores_near(30.0, 120.0, minute_of_day=720) == []


# -- listings ------------------------------------------------------------------------------------

def test_hot_is_sales_then_rating_with_a_limit(catalog: Catalog) -> None:
    assert skus(catalog.hot("A")) == ["milk-tea", "beef-noodles", "latte", "scallion-noodles", "milk"]  # 300/300: rating 4.9 > 4.8
    assert skus(catalog.hot("A", limit=2)) == ["milk-tea", "beef-noodles"]
    assert catalog.hot("A", limit=0) == []


def test_new_is_most_recently_listed_first(catalog: Catalog) -> None:
    assert skus(catalog.new("A")) == ["latte", "milk", "scallion-noodles", "milk-tea", "beef-noodles"]
    assert skus(catalog.new("A", limit=1)) == ["latte"]


def test_promoted_lists_only_promoted_items_best_sellers_first(catalog: Catalog) -> None:
    assert skus(catalog.promoted("A")) == ["milk-tea", "scallion-noodles"]
    assert catalog.promoted("B") == []


def test_in_category_includes_subcategories(catalog: Catalog) -> None:
    assert skus(catalog.in_category("A", "drinks")) == ["milk-tea", "latte"]
    assert skus(catalog.in_category("A", "food")) == ["milk-tea", "beef-noodles", "latte", "scallion-noodles"]
    assert skus(catalog.in_category("A", "coffee")) == ["latte"]
    assert catalog.in_category("B", "noodles") == []
    with pytest.raises(CommerceError, match="unknown_category"):
        catalog.in_category("A", "toys")


@pytest.mark.parametrize("listing", ["hot", "new", "promoted", "items"])
def test_listings_of_an_unknown_store_fail(catalog: Catalog, listing: str) -> None:
    with pytest.raises(CommerceError) as err:
        getattr(catalog, listing)("Z")
    assert err.value.code == "unknown_store"


# -- the demo catalog ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def city() -> list[tuple[str, str, float, float]]:
    from api.city import load_city

    return [(s.id, s.name, s.location.lat, s.location.lng) for s in load_city(None)]


@pytest.fixture(scope="module")
def demo(city: list[tuple[str, str, float, float]]) -> Catalog:
    return demo_catalog(city, now=100_000.0)


def test_the_demo_catalog_is_deterministic(city: list[tuple[str, str, float, float]], demo: Catalog) -> None:
    again = demo_catalog(city, now=100_000.0)
    assert again.items() == demo.items()
    assert again.products() == demo.products()
    assert again.stores() == demo.stores()
    shifted = demo_catalog(city, now=100_000.0 + 1440)
    assert [p.created_at - 1440 for p in shifted.products()] == [p.created_at for p in demo.products()]


def test_every_demo_store_sells_a_fitting_menu(city: list[tuple[str, str, float, float]], demo: Catalog) -> None:
    assert len(city) == 18 and len(demo.stores()) == 18
    for store in demo.stores():
        items = demo.items(store.id)
        assert 8 <= len(items) <= 15, store.id
        assert len(demo.promoted(store.id)) == 2
        assert all(isinstance(i.price_cents, int) and i.price_cents > 0 for i in items)
        assert all(3.5 <= i.rating <= 5.0 and i.sales > 0 for i in items)
        assert any(i.stock > 0 for i in demo.hot(store.id, 3))
    tree = demo.categories
    assert {demo.category_of(i.sku) for i in demo.items("p1")} <= tree.descendants("pharmacy")
    for grocery in ("g1", "g2"):
        assert {demo.category_of(i.sku) for i in demo.items(grocery)} <= tree.descendants("grocery")
    for store_id in ("s1", "s11"):  # both noodle houses
        assert demo.product(demo.hot(store_id, 1)[0].sku).category == "noodles"
        assert demo.item(store_id, "noodle-beef").price_cents > 0
    assert demo.item("s1", "noodle-beef").sku == demo.item("s11", "noodle-beef").sku  # one product, two stores
    assert tree.ancestors("coffee") == ("drinks", "food")
    assert tree.descendants("food") >= {"noodles", "rice", "snacks", "drinks", "coffee", "tea"}
    assert tree.descendants("grocery") >= {"fruit", "vegetables", "dairy"}


def test_demo_products_have_real_bilingual_names(demo: Catalog) -> None:
    for p in demo.products():
        assert re.search(r"[A-Za-z]", p.name_en), p.sku
        assert re.search(r"[\u4e00-\u9fff]", p.name_zh), p.sku
    assert demo.product("noodle-beef").name_zh == "牛肉面"
    assert demo.product("dairy-organic-milk").name_en.startswith("Organic milk")


def test_demo_new_listings_show_recent_products(demo: Catalog) -> None:
    for store in demo.stores():
        newest = demo.product(demo.new(store.id, 1)[0].sku)
        assert 100_000.0 - newest.created_at <= 10 * 1440, store.id
    ages = sorted(100_000.0 - p.created_at for p in demo.products())
    assert ages[-1] > 30 * 1440  # and the others are older


def test_demo_hours_and_reach(demo: Catalog) -> None:
    peoples_square = (31.2320, 121.4700)
    lunch = demo.stores_near(*peoples_square, minute_of_day=12 * 60)
    assert len(lunch) >= 10
    distances = [s.distance_m(*peoples_square) for s in lunch]
    assert distances == sorted(distances)
    three_am = {s.id for s in demo.stores_near(*peoples_square, minute_of_day=3 * 60)}
    assert "p1" in three_am and "s1" not in three_am  # the pharmacy never closes; noodles open at 06:30
    assert demo.store("s5").is_open(60)  # the hotpot runs past midnight


def test_kind_from_name() -> None:
    assert kind_of("Xujiahui Beef Noodles").name == "noodles"
    assert kind_of("Century Avenue Dim Sum").name == "dim_sum"
    assert kind_of("Renmin Pharmacy").name == "pharmacy"
    assert kind_of("Fresh Market Pudong (grocery)").name == "grocery"
    assert kind_of("Mystery Shop").name == "convenience"
    odd = demo_catalog([("x1", "Mystery Shop", 31.23, 121.47)])
    assert len(odd.items("x1")) >= 8
