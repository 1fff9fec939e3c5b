"""Keyword search over product names in Chinese and English, tokenized by jieba.

Chinese has no spaces, so words come from jieba's search mode (``lcut_for_search``), which also
yields the shorter words inside a long one: 红烧牛肉面 gives 红烧, 牛肉, 牛肉面, so 牛肉 finds it.
Product names and the query are cut the same way; a Chinese query word also matches a name that
contains it where jieba cut the name differently (拿铁 in 生椰拿铁, one dictionary word; 乌冬 in
乌冬面) and single characters (奶, 面), which are rarely words of their own. The same tokenizer
splits English on non-letters; English words are lowercased and a query word of two or more
letters also matches as a prefix ("noodl" finds noodles), since people search while typing,
and a plural query word as its singular ("noodles" finds "Beef noodle soup").
A product scores one point per distinct query word it matches; a query equal to a SKU finds that
product above every word match.

jieba loads its dictionary (shipped in its wheel, no network) in about a second, so the index is
built on the first search, once, and the tokenizer is shared by every index in the process.
"""
from __future__ import annotations

import bisect
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commerce.catalog import Product

MAX_QUERY_CHARS = 100  # a search box, not a document: longer queries are cut
MIN_PREFIX = 2
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


@lru_cache(maxsize=1)
def _jieba() -> ModuleType:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs "Building prefix dict..." at INFO on every start
    jieba.initialize()
    return jieba


def normalize(text: str) -> str:
    """Full-width letters and digits (ＢＥＥＦ, from Chinese input methods) to ASCII, lowercased."""
    return unicodedata.normalize("NFKC", text).lower().strip()


def is_cjk(token: str) -> bool:
    return _CJK.search(token) is not None


def tokenize(text: str) -> tuple[str, ...]:
    """Distinct search tokens of ``text`` in order: jieba's search-mode words, edge punctuation stripped."""
    seen: dict[str, None] = {}
    for raw in _jieba().lcut_for_search(normalize(text)):
        token = _EDGE_PUNCT.sub("", raw)
        if token:
            seen.setdefault(token, None)
    return tuple(seen)


def _singulars(word: str) -> tuple[str, ...]:
    """The word and, for an English plural, the forms a prefix of the singular needs (noodles, tomatoes).

    Only for the query: names are matched by prefix, so "noodle" already finds "noodles".
    """
    forms = [word]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
        if len(word) > 4 and word.endswith("es"):
            forms.append(word[:-2])
    return tuple(forms)


@lru_cache(maxsize=4096)
def _query_tokens(query: str) -> tuple[str, ...]:
    return tokenize(query)


@dataclass(frozen=True)
class _Built:
    postings: dict[str, frozenset[str]]  # token -> SKUs
    latin: tuple[str, ...]  # sorted non-Chinese tokens, for prefix lookups
    zh_text: dict[str, str]  # SKU -> its Chinese name and tags, for matches inside a word
    skus: dict[str, str]  # normalized SKU -> SKU


class SearchIndex:
    """An inverted index of product names (both languages) and tags, built lazily."""

    def __init__(self, products: Iterable[Product]) -> None:
        self._products = tuple(products)
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Build now (e.g. at startup) rather than on the first search."""
        self._index()

    def search(self, query: str, limit: int | None = None) -> list[tuple[str, int]]:
        """``(sku, score)`` pairs, best first (score, then SKU); ``[]`` when nothing matches."""
        if not isinstance(query, str):
            return []
        query = normalize(query[:MAX_QUERY_CHARS])
        if not query:
            return []
        index = self._index()
        tokens = _query_tokens(query)
        scores: Counter[str] = Counter()
        for token in tokens:
            scores.update(self._matches(index, token))
        exact = index.skus.get(query)
        if exact is not None:
            scores[exact] = len(tokens) + 1
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked if limit is None else ranked[: max(0, limit)]

    def _matches(self, index: _Built, token: str) -> set[str]:
        found = set(index.postings.get(token, ()))
        if is_cjk(token):
            found.update(sku for sku, text in index.zh_text.items() if token in text)
        else:
            for stem in _singulars(token):
                if len(stem) < MIN_PREFIX:
                    found.update(index.postings.get(stem, ()))
                    continue
                start = bisect.bisect_left(index.latin, stem)
                for word in index.latin[start:]:
                    if not word.startswith(stem):
                        break
                    found.update(index.postings[word])
        return found

    def _index(self) -> _Built:
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
        return self._built

    def _build(self) -> _Built:
        postings: dict[str, set[str]] = {}
        zh_text: dict[str, str] = {}
        for p in self._products:
            for field in (p.name_en, p.name_zh, *p.tags):
                for token in tokenize(field):
                    postings.setdefault(token, set()).add(p.sku)
            zh_text[p.sku] = normalize(" ".join(t for t in (p.name_zh, *p.tags) if is_cjk(t)))
        return _Built(
            postings={token: frozenset(skus) for token, skus in postings.items()},
            latin=tuple(sorted(t for t in postings if not is_cjk(t))),
            zh_text=zh_text,
            skus={normalize(p.sku): p.sku for p in self._products},
        )
