"""Findings that other apps compute for a check run, reconciled with the catalogue's.

Identity resolution (custos.identity) finds XC01–XC03 from its persons, not from the catalogue's
SQL: it registers a source, and every check run asks the sources for their checks and findings on
the load being checked, so those findings open, stay open and close with the ordinary life cycle
(custos.checks.lifecycle). A source that has nothing to say about a load (e.g. the load was never
linked) returns None: its findings are then neither kept nor closed by the run, only closed when
their party is gone.

    def source(load) -> SourceResult | None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class SourceCheck:
    code: str
    category: str
    severity: str
    message_zh: str
    message_en: str
    basis: str = ""


@dataclass
class SourceResult:
    checks: list[SourceCheck]
    table: pa.Table  # check, policy_no, role, seq, field, value, proposed, detail
    enabled: list[str] = field(default_factory=list)  # the codes this run may close


_SOURCES: list[Callable] = []
_DECLARED: dict[str, SourceCheck] = {}


def register(fn: Callable, checks: list[SourceCheck] | tuple = ()) -> None:
    if fn not in _SOURCES:
        _SOURCES.append(fn)
    for c in checks:
        _DECLARED[c.code] = c


def declared(code: str) -> SourceCheck | None:
    return _DECLARED.get(code)


def collect(load) -> list[SourceResult]:
    out = []
    for fn in _SOURCES:
        res = fn(load)
        if res is not None:
            for c in res.checks:
                _DECLARED[c.code] = c
            out.append(res)
    return out
