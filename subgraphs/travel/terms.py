"""Search terms: text cut into tokens any full-text index can store, Chinese included.

Neither MariaDB (no `ngram` parser: `WITH PARSER ngram` fails with "Function 'ngram'
is not defined" on 10.11, and Mroonga is not installed) nor a portable SQLite
tokenizer segments Chinese, so the segmenting happens here, in Python, once per
write: a run of Chinese characters becomes its single characters and its
overlapping bigrams (洱海边 → 洱 海 边 洱海 海边), a run of letters or digits one
lower-cased word. The stored column holds each token hex-encoded behind an `x`
(`x` + UTF-8 hex), so every database's default word parser keeps it whole and
nothing in it is shorter than InnoDB's 3-character minimum token or on a stopword
list. The same columns are indexed by a MariaDB/MySQL FULLTEXT index and by an
SQLite FTS5 table: one tokenisation, two engines, identical matches.

A keyword matches when the text holds every bigram of its Chinese runs (or the
single character, for a one-character run) and every one of its words as a prefix.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Hex of at most 40 UTF-8 bytes + "x" stays under InnoDB's 84-character maximum token.
_WORD_BYTES = 40
_CJK = (
    "\u3400-\u4dbf"  # Extension A
    "\u4e00-\u9fff"  # Unified Ideographs
    "\uf900-\ufaff"  # Compatibility Ideographs
    "\U00020000-\U0002ffff"  # Extensions B…
)
_RUNS = re.compile(rf"([{_CJK}]+)|([^\W_]+)")  # Chinese runs, or letter/digit words


def _encode(token: str) -> str:
    return "x" + token.encode()[:_WORD_BYTES].hex()


def _runs(text: str) -> Iterable[tuple[str, bool]]:
    """(run, is_chinese) for each Chinese run and each other word, normalised."""
    normalised = unicodedata.normalize("NFKC", text).lower()
    for match in _RUNS.finditer(normalised):
        chinese, word = match.groups()
        yield (chinese, True) if chinese else (word, False)


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_terms(*texts: str | None) -> str:
    """What to store for `texts`: space-separated encoded tokens, each once."""
    tokens: dict[str, None] = {}
    for text in texts:
        for run, chinese in _runs(text or ""):
            parts = [*run, *_bigrams(run)] if chinese else [run]
            tokens.update((_encode(part), None) for part in parts)
    return " ".join(tokens)


@dataclass(frozen=True, slots=True)
class Terms:
    """A keyword as tokens: `exact` must occur as they are, `prefixes` as word starts."""

    exact: tuple[str, ...]
    prefixes: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def boolean_mode(self) -> str:
        """MySQL/MariaDB `MATCH … AGAINST (… IN BOOLEAN MODE)`: every term required."""
        return " ".join([*(f"+{t}" for t in self.exact), *(f"+{t}*" for t in self.prefixes)])

    def fts5(self, column: str | None = None) -> str:
        """SQLite FTS5 query: every term required, within `column` when given."""
        query = " AND ".join([*(f'"{t}"' for t in self.exact), *(f'"{t}"*' for t in self.prefixes)])
        return f"{column} : ({query})" if column else query


def query_terms(keyword: str) -> Terms:
    """The tokens a keyword's matches must hold (empty when it has no letters at all)."""
    exact: dict[str, None] = {}
    prefixes: dict[str, None] = {}
    for run, chinese in _runs(keyword):
        if chinese:
            exact.update((_encode(part), None) for part in (_bigrams(run) or [run]))
        else:
            prefixes[_encode(run)] = None
    return Terms(tuple(exact), tuple(prefixes))
