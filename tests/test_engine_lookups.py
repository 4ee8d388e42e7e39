"""The reference lookups compiled into SQL expressions (custos.checks.engine.prepare) give exactly
what a join with the pinned reference table gives, for every key and for keys that are not digits."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from custos.checks.engine import prepare
from custos.domain import refdata


def _eval(expr: str, col: str, values: list[str | None]) -> list:
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS {col}", [values])
        return [r[0] for r in con.execute(f"SELECT {expr} FROM t").fetchall()]
    finally:
        con.close()


_ODD = [None, "", "1", "13", "1a3", "１３８", "13८", "+86", "13 8", "1'3", "01", "0a", "0２1"]


def test_segment_lookup_equals_the_join():
    seg = {r["prefix"]: int(r["valid"]) for r in refdata.rows("mobile_segments")}
    keys = ["".join(p) for n in (3, 4) for p in itertools.product("0123456789", repeat=n) if p[0] == "1"]
    values = [k + "1234567"[: 11 - len(k)] for k in keys] + keys + _ODD
    got = _eval(prepare._segment_valid("m"), "m", values)
    for v, g in zip(values, got, strict=True):
        want = 0 if v is None else seg.get(v[:4], seg.get(v[:3], 0))
        assert g == want, v


def test_integer_segment_lookup_equals_the_text_lookup_for_every_11_digit_prefix():
    """The engines look up an 11-digit mobile's segment on its integer (bit masks); every 4-digit
    prefix, leading zeros included, gives what the text lookup gives."""
    values = [f"{p:04d}1234567" for p in range(10000)]
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS m", [values])
        rows = con.execute(
            f"SELECT m, {prepare._segment_valid('m')}, {prepare._segment_valid_int('CAST(m AS BIGINT)')} FROM t"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 10000
    assert [r for r in rows if r[1] != r[2]] == []
    assert sum(r[1] for r in rows) > 0  # some segments are valid


def test_area_code_lookup_equals_the_join():
    codes = refdata.area_codes()
    keys = ["0" + "".join(p) for n in (2, 3) for p in itertools.product("0123456789", repeat=n)]
    values = [k + "1234567" for k in keys] + keys + _ODD + ["0x10", "0ab", "0 10"]
    got = _eval(prepare._area_known("ph"), "ph", values)
    for v, g in zip(values, got, strict=True):
        key = None if v is None else (v[1:3] if v[1:2] in ("1", "2") else v[1:4])
        assert g == (key in codes), v


@pytest.mark.parametrize("role", ["applicant"])
def test_province_and_postcode_lookups_equal_the_join(role):
    names = refdata.province_names()
    addresses = [n + "某路1号" for n in names] + ["内蒙", "黑龙", "广", "北京", "某省", None, "", "京北"]
    got = _eval(prepare._province("a"), "a", addresses)
    for a, g in zip(addresses, got, strict=True):
        want = None
        if a is not None:
            want = names.get(a[:3]) or names.get(a[:2])
        assert g == want, a
    provinces = sorted(set(names.values())) + [None, "99"]
    postcodes = [f"{i:02d}0000" for i in range(100)] + [None, "", "1", "x1"]
    pairs = list(itertools.product(provinces, postcodes))
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS prov, unnest(?::VARCHAR[]) AS pc",
            [[p for p, _ in pairs], [c for _, c in pairs]],
        )
        got = [
            r[0]
            for r in con.execute(f"SELECT {prepare._postcode_in_province('prov', 'pc')} FROM t").fetchall()
        ]
    finally:
        con.close()
    for (p, c), g in zip(pairs, got, strict=True):
        want = p is not None and c is not None and c[:2] in refdata.postcode_prefixes(p)
        assert g == want, (p, c)


def test_placeholder_lookup_is_never_null():
    got = _eval(prepare._in("v", prepare._placeholders("mobile")), "v", [None, "13800138000", "1"])
    assert got == [False, True, False]
