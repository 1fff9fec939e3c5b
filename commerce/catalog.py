"""The shop catalog: a category tree, products, the stores that sell them, and what each store sells.

A ``Product`` is the thing itself (one SKU, a bilingual name, a category); a ``StoreItem`` is one
store selling it (price, stock, rating, sales, promotion). Keeping them apart lets two noodle
houses sell the same SKU at different prices, and lets search and categories work on products
once, whichever store sells them. A ``Catalog`` is an immutable snapshot: the API reads it from
many requests at once without locks, and live stock is kept elsewhere (``api.shop.inventory``).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from commerce.errors import CommerceError
from commerce.search import SearchIndex
from dispatch.geo import Location, haversine_m
from dispatch.zones import ZONE_RES, cell_str, zone_of

MINUTES_PER_DAY = 1440.0


@dataclass(frozen=True)
class Category:
    """One node of the category tree; ``parent`` None makes it a root."""

    id: str
    name: str
    parent: str | None = None
    name_zh: str = ""


class CategoryTree:
    """Categories with their ancestors and descendants precomputed (listings and coupons ask often)."""

    def __init__(self, categories: Iterable[Category]) -> None:
        self._by_id: dict[str, Category] = {}
        for c in categories:
            if not c.id:
                raise CommerceError("invalid_catalog", "a category needs an id")
            if c.id in self._by_id:
                raise CommerceError("invalid_catalog", f"category {c.id!r} is defined twice")
            self._by_id[c.id] = c
        self._children: dict[str, list[str]] = {cid: [] for cid in self._by_id}
        self._roots: list[str] = []
        for c in self._by_id.values():
            if c.parent is None:
                self._roots.append(c.id)
            elif c.parent not in self._by_id:
                raise CommerceError("invalid_catalog", f"category {c.id!r} has an unknown parent {c.parent!r}")
            else:
                self._children[c.parent].append(c.id)
        self._ancestors: dict[str, tuple[str, ...]] = {}
        for cid in self._by_id:
            chain: list[str] = []
            parent = self._by_id[cid].parent
            while parent is not None:
                if parent == cid or parent in chain:
                    raise CommerceError("invalid_catalog", f"category {cid!r} is its own ancestor")
                chain.append(parent)
                parent = self._by_id[parent].parent
            self._ancestors[cid] = tuple(chain)
        below: dict[str, set[str]] = {cid: {cid} for cid in self._by_id}
        for cid, chain in self._ancestors.items():
            for ancestor in chain:
                below[ancestor].add(cid)
        self._descendants = {cid: frozenset(ids) for cid, ids in below.items()}

    def get(self, category_id: str) -> Category:
        try:
            return self._by_id[category_id]
        except KeyError:
            raise CommerceError("unknown_category", f"there is no category {category_id!r}") from None

    def ancestors(self, category_id: str) -> tuple[str, ...]:
        """Parent first, root last; the category itself is not included (a root has none)."""
        self.get(category_id)
        return self._ancestors[category_id]

    def descendants(self, category_id: str) -> frozenset[str]:
        """The category and everything below it: what "in this category" means for listings and coupons."""
        self.get(category_id)
        return self._descendants[category_id]

    def path(self, category_id: str) -> tuple[str, ...]:
        """Root to the category itself: a breadcrumb."""
        return (*reversed(self.ancestors(category_id)), category_id)

    def children(self, category_id: str) -> tuple[str, ...]:
        self.get(category_id)
        return tuple(self._children[category_id])

    def roots(self) -> tuple[str, ...]:
        return tuple(self._roots)

    def matches(self, category_id: str, wanted: Collection[str]) -> bool:
        """Whether the category is one of ``wanted`` or lies below one (a category-restricted coupon)."""
        return category_id in wanted or any(a in wanted for a in self.ancestors(category_id))

    def __contains__(self, category_id: object) -> bool:
        return category_id in self._by_id

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass(frozen=True)
class Product:
    """A SKU: what it is called in both languages, where it sits in the tree, when it was listed."""

    sku: str
    name_en: str
    name_zh: str
    category: str
    created_at: float = 0.0
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.sku:
            raise CommerceError("invalid_catalog", "a product needs a SKU")
        if not (self.name_en or self.name_zh):
            raise CommerceError("invalid_catalog", f"product {self.sku!r} needs a name")
        object.__setattr__(self, "tags", tuple(self.tags))


@dataclass(frozen=True)
class ShopStore:
    """A store as the shop sees it: where it is, when it is open, how far it delivers.

    ``opens``/``closes`` are minutes of the day; ``closes`` before ``opens`` means the store is open
    past midnight (a late-night hotpot, 11:00-02:00), and 0-1440 means always open.
    """

    id: str
    name: str
    lat: float
    lng: float
    opens: float = 0.0
    closes: float = MINUTES_PER_DAY
    delivery_radius_m: float = 5000.0

    def __post_init__(self) -> None:
        try:
            Location(self.lat, self.lng)
        except ValueError as exc:
            raise CommerceError("invalid_catalog", f"store {self.id}: {exc}") from None
        if not (0.0 <= self.opens <= MINUTES_PER_DAY and 0.0 <= self.closes <= MINUTES_PER_DAY):
            raise CommerceError("invalid_catalog", f"store {self.id}: opening hours must be minutes of the day (0-1440)")
        if self.opens == self.closes:
            raise CommerceError("invalid_catalog", f"store {self.id}: opens and closes at the same minute (use 0-1440 for always open)")
        if self.delivery_radius_m <= 0:
            raise CommerceError("invalid_catalog", f"store {self.id}: the delivery radius must be positive")

    @property
    def location(self) -> Location:
        return Location(self.lat, self.lng)

    def is_open(self, minute_of_day: float) -> bool:
        m = minute_of_day % MINUTES_PER_DAY
        if self.opens < self.closes:
            return self.opens <= m < self.closes
        return m >= self.opens or m < self.closes

    def cell(self, res: int = ZONE_RES) -> str:
        """The store's H3 cell as a hex string (the zone dispatch files it under)."""
        return cell_str(zone_of(self.location, res))

    def distance_m(self, lat: float, lng: float) -> float:
        return haversine_m(self.location, Location(lat, lng))

    def covers(self, lat: float, lng: float) -> bool:
        return self.distance_m(lat, lng) <= self.delivery_radius_m


@dataclass(frozen=True)
class StoreItem:
    """One store selling one SKU. ``stock`` is the catalog's starting stock; ``sales`` a monthly count."""

    store_id: str
    sku: str
    price_cents: int
    stock: int
    rating: float = 0.0
    sales: int = 0
    promoted: bool = False

    def __post_init__(self) -> None:
        where = f"{self.store_id}/{self.sku}"
        if isinstance(self.price_cents, bool) or not isinstance(self.price_cents, int) or self.price_cents < 0:
            raise CommerceError("invalid_catalog", f"{where}: the price must be a non-negative whole number of cents")
        if isinstance(self.stock, bool) or not isinstance(self.stock, int) or self.stock < 0:
            raise CommerceError("invalid_catalog", f"{where}: the stock must be a non-negative whole number")
        if not 0.0 <= self.rating <= 5.0:
            raise CommerceError("invalid_catalog", f"{where}: the rating must be between 0 and 5")
        if self.sales < 0:
            raise CommerceError("invalid_catalog", f"{where}: sales cannot be negative")


def _popular(item: StoreItem) -> tuple[int, float, str]:
    return (-item.sales, -item.rating, item.sku)


class Catalog:
    """Stores, categories, products and store items, indexed for the shop's listings and search."""

    def __init__(
        self,
        stores: Iterable[ShopStore],
        categories: Iterable[Category] | CategoryTree,
        products: Iterable[Product],
        items: Iterable[StoreItem],
    ) -> None:
        self.categories = categories if isinstance(categories, CategoryTree) else CategoryTree(categories)
        self._stores: dict[str, ShopStore] = {}
        for s in stores:
            if s.id in self._stores:
                raise CommerceError("invalid_catalog", f"store {s.id!r} is defined twice")
            self._stores[s.id] = s
        self._products: dict[str, Product] = {}
        for p in products:
            if p.sku in self._products:
                raise CommerceError("invalid_catalog", f"SKU {p.sku!r} is defined twice")
            if p.category not in self.categories:
                raise CommerceError("unknown_category", f"product {p.sku!r} is in an unknown category {p.category!r}")
            self._products[p.sku] = p
        self._items: dict[tuple[str, str], StoreItem] = {}
        self._by_store: dict[str, list[StoreItem]] = {sid: [] for sid in self._stores}
        self._by_sku: dict[str, list[StoreItem]] = {sku: [] for sku in self._products}
        for item in items:
            self.store(item.store_id)
            self.product(item.sku)
            key = (item.store_id, item.sku)
            if key in self._items:
                raise CommerceError("invalid_catalog", f"store {item.store_id} lists SKU {item.sku!r} twice")
            self._items[key] = item
            self._by_store[item.store_id].append(item)
            self._by_sku[item.sku].append(item)
        self.index = SearchIndex(self._products.values())  # builds itself on the first search

    # -- lookups -------------------------------------------------------------------------------
    def store(self, store_id: str) -> ShopStore:
        try:
            return self._stores[store_id]
        except KeyError:
            raise CommerceError("unknown_store", f"there is no store {store_id!r}") from None

    def product(self, sku: str) -> Product:
        try:
            return self._products[sku]
        except KeyError:
            raise CommerceError("unknown_product", f"there is no product with SKU {sku!r}") from None

    def item(self, store_id: str, sku: str) -> StoreItem:
        self.store(store_id)
        self.product(sku)
        try:
            return self._items[(store_id, sku)]
        except KeyError:
            raise CommerceError("not_sold_here", f"store {store_id} does not sell {sku!r}") from None

    def category_of(self, sku: str) -> str:
        return self.product(sku).category

    def stores(self) -> list[ShopStore]:
        return list(self._stores.values())

    def products(self) -> list[Product]:
        return list(self._products.values())

    def items(self, store_id: str | None = None) -> list[StoreItem]:
        """Every item of one store (in catalog order), or of all stores."""
        if store_id is None:
            return list(self._items.values())
        self.store(store_id)
        return list(self._by_store[store_id])

    # -- listings ------------------------------------------------------------------------------
    def stores_near(self, lat: float, lng: float, minute_of_day: float) -> list[ShopStore]:
        """Stores open at that minute that deliver to the point, nearest first."""
        found = [(s.distance_m(lat, lng), s.id, s) for s in self._stores.values() if s.is_open(minute_of_day)]
        return [s for d, _, s in sorted(found, key=lambda t: (t[0], t[1])) if d <= s.delivery_radius_m]

    def hot(self, store_id: str, limit: int = 20) -> list[StoreItem]:
        """Best sellers: sales, then rating."""
        return sorted(self.items(store_id), key=_popular)[: max(0, limit)]

    def new(self, store_id: str, limit: int = 20) -> list[StoreItem]:
        """Most recently listed products first."""
        return sorted(self.items(store_id), key=lambda i: (-self._products[i.sku].created_at, i.sku))[: max(0, limit)]

    def promoted(self, store_id: str) -> list[StoreItem]:
        """The store's promoted items, best sellers first."""
        return sorted((i for i in self.items(store_id) if i.promoted), key=_popular)

    def in_category(self, store_id: str, category_id: str) -> list[StoreItem]:
        """Items in the category or below it, best sellers first."""
        wanted = self.categories.descendants(category_id)
        return sorted((i for i in self.items(store_id) if self._products[i.sku].category in wanted), key=_popular)

    # -- search --------------------------------------------------------------------------------
    def search(self, query: str, store_id: str | None = None, limit: int = 20) -> list[StoreItem]:
        """Items whose product matches the query: more matched words first, then sales, then rating."""
        if store_id is not None:
            self.store(store_id)
        if limit <= 0:
            return []
        ranked: list[tuple[int, StoreItem]] = []
        for sku, score in self.index.search(query):
            if store_id is None:
                ranked.extend((score, item) for item in self._by_sku.get(sku, ()))
            elif (item := self._items.get((store_id, sku))) is not None:
                ranked.append((score, item))
        ranked.sort(key=lambda t: (-t[0], -t[1].sales, -t[1].rating, t[1].store_id, t[1].sku))
        return [item for _, item in ranked[:limit]]
