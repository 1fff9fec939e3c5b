"""Search: jieba tokens for Chinese, lowercase words and prefixes for English, SKUs, ranking by
matched words then sales then rating, the store filter, and queries that must find nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from commerce.catalog import Catalog, Category, Product, ShopStore, StoreItem
from commerce.errors import CommerceError
from commerce.search import SearchIndex, tokenize

CATEGORIES = [Category("food", "Food"), Category("noodles", "Noodles", "food"), Category("rice", "Rice", "food"),
              Category("drinks", "Drinks", "food"), Category("dairy", "Dairy"), Category("pharmacy", "Pharmacy")]
PRODUCTS = [
    Product("N-BEEF", "Beef noodle soup", "牛肉面", "noodles"),
    Product("N-BRAISED", "Braised beef noodles", "红烧牛肉面", "noodles"),
    Product("N-SCALLION", "Scallion oil noodles", "葱油拌面", "noodles"),
    Product("R-BEEF", "Beef rice bowl", "肥牛饭", "rice", tags=("牛肉",)),
    Product("D-LATTE", "Coconut latte", "生椰拿铁", "drinks", tags=("coffee",)),
    Product("D-BOBA", "Pearl milk tea", "珍珠奶茶", "drinks"),
    Product("M-ORGANIC", "Organic milk 1 L", "有机牛奶 1升", "dairy"),
    Product("M-WHOLE", "Whole milk 250 ml x 12", "全脂纯牛奶", "dairy"),
    Product("P-COLD", "Cold relief granules", "感冒灵颗粒", "pharmacy"),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(PRODUCTS)


def found(index: SearchIndex, query: str) -> list[str]:
    return [sku for sku, _ in index.search(query)]


def test_tokenize_cuts_chinese_in_search_mode_and_lowercases_english() -> None:
    assert {"红烧", "牛肉", "牛肉面"} <= set(tokenize("红烧牛肉面"))
    assert tokenize("Beef Noodle-Soup!") == ("beef", "noodle", "soup")
    assert tokenize("ＢＥＥＦ　面") == ("beef", "面")  # full-width input from a Chinese IME
    assert tokenize("  ,.!? ") == ()


def test_chinese_word_finds_every_name_that_contains_it(index: SearchIndex) -> None:
    assert set(found(index, "牛肉")) == {"N-BEEF", "N-BRAISED", "R-BEEF"}  # 肥牛饭 by its tag
    assert set(found(index, "牛奶")) == {"M-ORGANIC", "M-WHOLE"}
    assert set(found(index, "感冒")) == {"P-COLD"}


def test_chinese_words_jieba_keeps_whole_and_single_characters(index: SearchIndex) -> None:
    assert found(index, "拿铁") == ["D-LATTE"]  # 生椰拿铁 is one dictionary word
    assert set(found(index, "奶")) == {"D-BOBA", "M-ORGANIC", "M-WHOLE"}
    assert set(found(index, "面")) == {"N-BEEF", "N-BRAISED", "N-SCALLION"}


def test_english_words_are_case_insensitive(index: SearchIndex) -> None:
    assert set(found(index, "beef")) == {"N-BEEF", "N-BRAISED", "R-BEEF"}
    assert found(index, "BEEF") == found(index, "beef")
    assert set(found(index, "milk")) == {"D-BOBA", "M-ORGANIC", "M-WHOLE"}
    assert found(index, "coffee") == ["D-LATTE"]  # tags are searched too


def test_english_prefixes_of_two_letters_or_more(index: SearchIndex) -> None:
    assert set(found(index, "noodl")) == {"N-BEEF", "N-BRAISED", "N-SCALLION"}
    assert set(found(index, "mi")) == {"D-BOBA", "M-ORGANIC", "M-WHOLE"}
    assert found(index, "n") == []  # one letter is not a prefix search
    assert found(index, "noodlesoup") == []
    assert set(found(index, "noodles")) == set(found(index, "noodle"))  # a plural query finds the singular
    assert found(index, "lattes") == ["D-LATTE"] and found(index, "bowls") == ["R-BEEF"]


def test_more_matched_words_score_higher(index: SearchIndex) -> None:
    scores = dict(index.search("牛肉面"))  # 牛肉 and 牛肉面
    assert scores["N-BEEF"] == scores["N-BRAISED"] == 2
    assert scores["R-BEEF"] == 1
    scores = dict(index.search("beef noodles"))
    assert scores["N-BEEF"] == scores["N-BRAISED"] == 2 and scores["R-BEEF"] == scores["N-SCALLION"] == 1
    assert index.search("beef noodles", limit=2) == [("N-BEEF", 2), ("N-BRAISED", 2)]  # ties by SKU


def test_sku_matches_exactly_and_first(index: SearchIndex) -> None:
    assert found(index, "M-WHOLE")[0] == "M-WHOLE"
    assert found(index, "m-whole")[0] == "M-WHOLE"
    assert "M-WHOLE" not in found(index, "P-COLD")


@pytest.mark.parametrize("query", ["", "   ", "!!!", "？？", "xyzzy", "的", "zz top", None, 42])
def test_nothing_to_find_is_an_empty_list(index: SearchIndex, query: object) -> None:
    assert index.search(query) == []  # type: ignore[arg-type]


def test_a_very_long_query_is_cut_not_refused(index: SearchIndex) -> None:
    assert set(found(index, "牛奶" + "x" * 10_000)) == {"M-ORGANIC", "M-WHOLE"}


def test_the_index_is_built_on_first_use_once() -> None:
    fresh = SearchIndex(PRODUCTS)
    assert fresh._built is None
    fresh.search("beef")
    built = fresh._built
    assert built is not None
    fresh.search("牛奶")
    assert fresh._built is built


def test_jieba_loads_offline_and_quietly() -> None:
    """jieba's dictionary ships in its wheel; its "Building prefix dict" chatter is silenced."""
    code = ("import socket\n"
            "def refuse(*a, **k): raise OSError('no network in this test')\n"
            "socket.socket.connect = refuse\n"
            "from commerce.search import SearchIndex\nfrom commerce.catalog import Product\n"
            "print(SearchIndex([Product('a', 'Beef noodle soup', '牛肉面', 'x')]).search('牛肉'))\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('a', 1)]"
    assert "prefix dict" not in done.stderr and "Loading model" not in done.stderr


# -- through the catalog: items, ranking, the store filter ---------------------------------------

STORES = [ShopStore("A", "Noodle house", 31.23, 121.47), ShopStore("B", "Market", 31.24, 121.47),
          ShopStore("C", "Pharmacy", 31.25, 121.47)]
ITEMS = [
    StoreItem("A", "N-BEEF", 2800, 10, rating=4.5, sales=100),
    StoreItem("A", "N-BRAISED", 3200, 10, rating=4.0, sales=40),
    StoreItem("A", "R-BEEF", 3400, 10, rating=4.9, sales=5000),
    StoreItem("A", "N-SCALLION", 1600, 10, rating=4.8, sales=900),
    StoreItem("B", "N-BEEF", 2600, 10, rating=4.9, sales=100),
    StoreItem("B", "M-ORGANIC", 1880, 10, rating=4.6, sales=300),
    StoreItem("B", "M-WHOLE", 4990, 0, rating=4.7, sales=800),
    StoreItem("C", "P-COLD", 1580, 10, rating=4.8, sales=50),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(STORES, CATEGORIES, PRODUCTS, ITEMS)


def pairs(items: list[StoreItem]) -> list[tuple[str, str]]:
    return [(i.store_id, i.sku) for i in items]


def test_catalog_ranks_by_matched_words_then_sales_then_rating(catalog: Catalog) -> None:
    # 牛肉面 matches two words of 牛肉面/红烧牛肉面 but one of 肥牛饭, whose sales are far higher;
    # the two 牛肉面 items have equal sales, so B's better rating comes first.
    assert pairs(catalog.search("牛肉面")) == [("B", "N-BEEF"), ("A", "N-BEEF"), ("A", "N-BRAISED"), ("A", "R-BEEF")]
    assert pairs(catalog.search("牛肉")) == [("A", "R-BEEF"), ("B", "N-BEEF"), ("A", "N-BEEF"), ("A", "N-BRAISED")]
    assert pairs(catalog.search("milk")) == [("B", "M-WHOLE"), ("B", "M-ORGANIC")]  # sold out is still found


def test_catalog_search_filters_by_store_and_limits(catalog: Catalog) -> None:
    assert pairs(catalog.search("beef", store_id="B")) == [("B", "N-BEEF")]
    assert pairs(catalog.search("noodl", store_id="A")) == [("A", "N-SCALLION"), ("A", "N-BEEF"), ("A", "N-BRAISED")]
    assert catalog.search("beef", store_id="C") == []
    assert pairs(catalog.search("beef", limit=1)) == [("A", "R-BEEF")]
    assert catalog.search("beef", limit=0) == []
    assert catalog.search("拿铁") == []  # a product no store sells
    with pytest.raises(CommerceError) as err:
        catalog.search("beef", store_id="Z")
    assert err.value.code == "unknown_store"


def test_catalog_search_of_garbage_is_empty(catalog: Catalog) -> None:
    for query in ("", "   ", "%%%", "qwertyuiop", "的了吗"):
        assert catalog.search(query) == []


def test_search_in_the_demo_catalog() -> None:
    from commerce.demo_catalog import demo_catalog

    demo = demo_catalog([("s1", "Nanjing Road Noodle House", 31.2365, 121.4780),
                         ("s11", "Xujiahui Beef Noodles", 31.1985, 121.4420),
                         ("g1", "Fresh Market Puxi (grocery)", 31.2050, 121.4550),
                         ("p1", "Renmin Pharmacy", 31.2290, 121.4600)])
    beef = demo.search("牛肉", limit=100)
    assert {("s1", "noodle-beef"), ("s11", "noodle-beef"), ("g1", "meat-beef-brisket")} <= set(pairs(beef))
    milk = {demo.product(i.sku).name_en for i in demo.search("牛奶")}
    assert {"Organic milk 1 L", "Whole milk 250 ml x 12", "Low-fat milk 950 ml"} <= milk
    assert all(demo.category_of(i.sku) == "noodles" for i in demo.search("noodl", store_id="s1"))
    assert len(demo.search("noodl", store_id="s1")) >= 8
    assert demo.search("beef", store_id="p1") == []
    assert [i.sku for i in demo.search("感冒")][:1] == ["med-cold-granules"]
    hits = demo.search("Beef noodle soup")
    assert hits[0].sku == "noodle-beef"  # three matched words beat any one-word match
