"""The prepared tables every check reads, in DuckDB SQL (transpiled to Spark SQL by sqlglot).

Inputs (registered by the engine): the snapshot tables ``branches staff partners policies parties
changes visits blacklist`` and the reference tables ``ref_gb2260 ref_segments ref_area ref_provinces
ref_placeholders ref_numbers``. Outputs: ``ptm`` (materialised once, one row per party), ``pt`` (a
view over ``ptm`` restoring the raw values and cheap derived keys), ``stf`` (staff, normalised),
``rel`` (the party a relation refers to), ``outlet_phone``, ``outlet_addr``, ``plink`` (persons
linked as applicant and insured on one policy).

Two forms of ``ptm``/``pt``: the engines' (``prepare_fused``) evaluates the single-row rules while
preparing and keeps only what the cross-record checks read plus ``rule_mask``; the screening
evaluator's (``PREPARE``) keeps every prepared column — normalised values, ID parts, reference
lookups as flags, the policy's application date, each raw value only where it differs from its
normalised form — and evaluates the rules over ``pt``. ``PARTIES_FULL`` is that full ``pt`` computed
straight from ``parties``.

Speed: a party is cleaned in one pass. Every normalisation takes a cheap fast path (byte length =
character length, no blank or separator) when the value is already in normal form, and the exact
slow path (``translate``, ``regexp_replace``…) only otherwise; ID parts come from integer arithmetic
on the 17 digits, not from one substring per digit. Parameters are written ``${name}`` and filled
from CheckSettings before compiling.
"""

from __future__ import annotations

from custos.domain import refdata
from custos.domain.normalize import ADDRESS_DROP, DOT_VARIANTS, FULLWIDTH, HALFWIDTH

RID_TYPES = "('resident_id', 'household_register')"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


_FW_CLASS = "[" + FULLWIDTH.replace("－", "") + "－]"  # any character translate() would change
_DROP_CLASS = "[" + ADDRESS_DROP.replace("-", "") + "-]"
# A superset of the characters that make a name or an address differ from its normal form: every
# full-width character translate() maps (U+FF03–U+FF5A, U+3000), blanks, address punctuation, capitals.
_ADDR_SPECIAL = "[\\x{FF03}-\\x{FF5A}\\x{3000}\\x{00C0}-\\x{052F}A-Z" + ADDRESS_DROP.replace("-", "") + "-]"
_NAME_SPECIAL = "[\\x{FF03}-\\x{FF5A}\\x{3000} ]"


def halfwidth(col: str) -> str:
    """translate() only where a full-width character occurs (translate is slow; the test is not)."""
    return (
        f"CASE WHEN regexp_matches({col}, {_lit(_FW_CLASS)}) "
        f"THEN translate({col}, {_lit(FULLWIDTH)}, {_lit(HALFWIDTH)}) ELSE {col} END"
    )


def clean(col: str) -> str:
    """Half-width, trimmed, NULL when empty — domain.normalize.clean."""
    return f"NULLIF(trim({halfwidth(col)}), '')"


def addr(col: str) -> str:
    """domain.normalize.address_form."""
    return f"NULLIF(lower(regexp_replace({halfwidth(col)}, {_lit(_DROP_CLASS)}, '', 'g')), '')"


def mobile(col: str) -> str:
    """domain.phones.normalize_mobile."""
    m = f"regexp_replace({clean(col)}, '[ \\-()]', '', 'g')"
    return (
        f"CASE WHEN {m} LIKE '+86%' AND length({m}) = 14 THEN substr({m}, 4)"
        f" WHEN {m} LIKE '0086%' AND length({m}) = 15 THEN substr({m}, 5)"
        f" WHEN {m} LIKE '86%' AND length({m}) = 13 THEN substr({m}, 3) ELSE {m} END"
    )


def digits(col: str) -> str:
    return f"NULLIF(regexp_replace({halfwidth(col)}, '[^0-9]', '', 'g'), '')"


def _ascii_plain(col: str, chars: str) -> str:
    """True when ``col`` is ASCII (byte length = character length) and has none of ``chars``."""
    tests = " OR ".join(f"contains({col}, {_lit(c)})" for c in chars)
    return f"(strlen({col}) = length({col}) AND NOT ({tests}))"


def age(birth: str, at: str) -> str:
    """Whole years from birth to at."""
    return (
        f"(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + day({at}) "
        f"< month({birth}) * 100 + day({birth}) THEN 1 ELSE 0 END)"
    )


def ymd(d: str) -> str:
    return f"(year({d}) * 10000 + month({d}) * 100 + day({d}))"


def contains_any(col: str, words) -> str:
    """``col`` contains one of ``words`` (a regex alternation of literals, without the regex)."""
    return "(" + " OR ".join(f"contains({col}, {_lit(w)})" for w in words) + ")"


def ends_any(col: str, words) -> str:
    return "(" + " OR ".join(f"ends_with({col}, {_lit(w)})" for w in words) + ")"


# --- Reference lookups as expressions, not joins -------------------------------------------------
# A LEFT JOIN of the wide party row with a small reference table costs far more than the lookup
# itself (DuckDB carries every column through every join: 13 joins were half of the preparation,
# 2026-11-25). The small tables (segments, area codes, provinces, placeholders) are therefore
# compiled from the same pinned CSV files into CASE / IN / position-in-a-string expressions that
# give exactly what the join gave; only GB2260 (7,000 codes) and the policy stay joins.


def _in(col: str, values) -> str:
    """``col`` is one of ``values``: true/false, never NULL (as ``joined row IS NOT NULL`` was).
    ``list_contains`` of a constant list, not ``IN``: DuckDB plans an IN list of more than a few
    constants as a join over the whole party row (3–4× the CPU time of the list lookup, 2026-11-25)."""
    return f"coalesce(list_contains([{', '.join(_lit(v) for v in sorted(values))}], {col}), false)"


def _is_digit(ch: str) -> str:
    return f"({ch} BETWEEN '0' AND '9')"


def _digit_table(col: str, start: int, table: dict[str, str], default: str) -> str:
    """The value ``table`` gives the 3 characters of ``col`` from ``start`` (``default`` when they are
    not a key): every key is 3 ASCII digits; looked up by position in one 100-character string per
    first digit (a constant string, no join)."""
    assert all(len(k) == 3 and k.isdigit() for k in table) and all(len(v) == 1 for v in table.values())
    first = f"substr({col}, {start}, 1)"
    rest = f"substr({col}, {start + 1}, 2)"
    whens = []
    for d in sorted({k[0] for k in table}):
        lane = "".join(table.get(f"{d}{i:02d}", default) for i in range(100))
        whens.append(f"WHEN {_lit(d)} THEN substr({_lit(lane)}, CAST({rest} AS INTEGER) + 1, 1)")
    return (
        f"CASE WHEN {_is_digit(f'substr({col}, {start + 1}, 1)')} AND {_is_digit(f'substr({col}, {start + 2}, 1)')}"
        f" THEN CASE {first} {' '.join(whens)} ELSE {_lit(default)} END ELSE {_lit(default)} END"
    )


def _segment_valid(m: str) -> str:
    """coalesce(valid of the 4-character prefix, valid of the 3-character prefix, 0)."""
    seg = {r["prefix"]: r["valid"] for r in refdata.rows("mobile_segments")}
    four = {k: v for k, v in seg.items() if len(k) == 4}
    three = {k: v for k, v in seg.items() if len(k) == 3}
    assert len(four) + len(three) == len(seg) and all(len(v) == 1 and v.isdigit() for v in seg.values())
    whens = " ".join(f"WHEN {_lit(k)} THEN {int(v)}" for k, v in sorted(four.items()))
    v3 = f"CAST({_digit_table(m, 1, three, '0')} AS INTEGER)"
    return (
        f"CASE WHEN {m} IS NULL THEN 0 ELSE CASE substr({m}, 1, 4) {whens} ELSE {v3} END END"
        if whens
        else (f"CASE WHEN {m} IS NULL THEN 0 ELSE {v3} END")
    )


def _segment_valid_int(m: str) -> str:
    """``_segment_valid`` of an 11-digit mobile given as the integer ``m``: the 4-digit exceptions by
    value, the 3-digit segments as bits of two constant BIGINT masks (a shift and an AND instead of
    the text lookups — substr into a 100-character lane was 0.35 CPU s at 1 M policies, 2026-11-25)."""
    seg = {r["prefix"]: r["valid"] for r in refdata.rows("mobile_segments")}
    four = {int(k): int(v) for k, v in seg.items() if len(k) == 4}
    three = {int(k): int(v) for k, v in seg.items() if len(k) == 3}
    assert all(100 <= k <= 199 for k in three), "3-digit segments outside 1xx: extend the masks"
    lo = sum(1 << (k - 100) for k, v in three.items() if v and k < 163)
    hi = sum(1 << (k - 163) for k, v in three.items() if v and k >= 163)
    p3, p4 = f"({m} // 100000000)", f"({m} // 10000000)"
    whens = " ".join(f"WHEN {k} THEN {v}" for k, v in sorted(four.items()))
    return (
        f"CASE {p4} {whens} ELSE CASE WHEN {p3} BETWEEN 100 AND 162 THEN CAST(({lo} >> CAST({p3} - 100 AS INTEGER)) & 1 AS INTEGER)"
        f" WHEN {p3} BETWEEN 163 AND 199 THEN CAST(({hi} >> CAST({p3} - 163 AS INTEGER)) & 1 AS INTEGER) ELSE 0 END END"
    )


def _area_known(ph: str) -> str:
    """The area code after the leading 0 (2 digits after 01/02, else 3) is a known area code."""
    codes = {r["area_code"] for r in refdata.rows("area_codes")}
    two = {c for c in codes if len(c) == 2}
    three = {c: "1" for c in codes if len(c) == 3}
    assert len(two) + len(three) == len(codes)
    return (
        f"coalesce(CASE WHEN substr({ph}, 2, 1) IN ('1', '2') THEN list_contains("
        f"[{', '.join(_lit(c) for c in sorted(two))}], substr({ph}, 2, 2)) ELSE {_digit_table(ph, 2, three, '0')} = '1' END, false)"
    )


def _province(a: str) -> str:
    """GB2260 province code of the short province name the address starts with (longest first)."""
    names: dict[str, str] = {}
    for r in refdata.rows("provinces"):
        assert names.setdefault(r["short_name"], r["province_code"]) == r["province_code"]
    parts = []
    for n in sorted({len(k) for k in names}, reverse=True):
        whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in sorted(names.items()) if len(k) == n)
        parts.append(f"CASE substr({a}, 1, {n}) {whens} END")
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _postcode_in_province(prov: str, postcode: str) -> str:
    by: dict[str, set[str]] = {}
    for r in refdata.rows("provinces"):
        by.setdefault(r["province_code"], set()).add(r["postcode_prefix"])
    whens = " ".join(
        f"WHEN {_lit(k)} THEN substr({postcode}, 1, 2) IN ({', '.join(_lit(v) for v in sorted(vs))})"
        for k, vs in sorted(by.items())
    )
    # the NULL test first: without it every party without a province (all but applicants) ran
    # through all 34 WHENs (0.1–0.2 CPU s of the preparing pass at 1 M policies, 2026-11-26)
    return f"CASE WHEN {prov} IS NULL OR {postcode} IS NULL THEN false ELSE coalesce(CASE {prov} {whens} END, false) END"


def _placeholders(kind: str) -> set[str]:
    return {r["value"] for r in refdata.rows("placeholders") if r["kind"] == kind}


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# GB11643 weighted sum over the 17 digits of the integer id17 (digit i = id17 DIV 10^(16-i) % 10)
_CHECKSUM = " + ".join(f"(id17 // {10 ** (16 - i)} % 10) * {w}" for i, w in enumerate(_WEIGHTS))
_ADDR_PH_BYTES = max(len(v.encode()) for v in _placeholders("address"))
RAW = ("name", "id_no", "mobile", "phone", "address", "postcode", "email")
_NORM = {
    "name": "name_n",
    "id_no": "id_n",
    "mobile": "mobile_n",
    "phone": "phone_n",
    "address": "addr_n",
    "postcode": "postcode_n",
    "email": "email_n",
}

_SEP = "'[ \\-()]'"

_PARTY_COLS = (
    "p.policy_no, p.role, CAST(p.seq AS BIGINT) AS seq, p.relation, p.gender, p.birth_date, p.id_type, "
    "p.id_valid_until, p.name, p.id_no, p.mobile, p.phone, p.address, p.postcode, p.email"
)
# (value, custos_slow bit, the SQL's own fast-path test, fast expression, exact expression)
_CLEAN = (
    (
        "name_n",
        1,
        f"NOT regexp_matches(p.name, {_lit(_NAME_SPECIAL)})",
        "NULLIF(p.name, '')",
        clean("p.name"),
    ),
    ("id_n", 2, _ascii_plain("p.id_no", " "), "NULLIF(upper(p.id_no), '')", f"upper({clean('p.id_no')})"),
    (
        "mobile_s",
        4,
        _ascii_plain("p.mobile", " -()"),
        "NULLIF(p.mobile, '')",
        f"regexp_replace({clean('p.mobile')}, {_SEP}, '', 'g')",
    ),
    (
        "phone_n",
        8,
        _ascii_plain("p.phone", " -()"),
        "NULLIF(p.phone, '')",
        f"regexp_replace({clean('p.phone')}, {_SEP}, '', 'g')",
    ),
    (
        "addr_n",
        16,
        f"NOT regexp_matches(p.address, {_lit(_ADDR_SPECIAL)})",
        "NULLIF(p.address, '')",
        addr("p.address"),
    ),
    ("postcode_n", 32, _ascii_plain("p.postcode", " "), "NULLIF(p.postcode, '')", clean("p.postcode")),
    ("email_n", 64, _ascii_plain("p.email", " "), "NULLIF(lower(p.email), '')", f"lower({clean('p.email')})"),
)


def _ptm_head(native: bool) -> str:
    """The CTEs ``c`` … ``f``: normalised values, the ID's and the mobile's parts. With ``native``
    the fast-path tests and the parts come from the custos_native DuckDB functions
    (custos.checks.native), which compute exactly what the SQL of the other branch computes."""
    if not native:
        cleaned = ",\n         ".join(
            f"CASE WHEN {test} THEN {fast_expr} ELSE {slow_expr} END AS {name}"
            for name, _, test, fast_expr, slow_expr in _CLEAN
        )
        return f"""
WITH c AS (
  SELECT {_PARTY_COLS},
         {cleaned}
  FROM parties p
),
d AS (
  SELECT *,
         length(id_n) = 18 AND regexp_matches(id_n, '^[0-9]{{17}}[0-9X]$') AS f18,
         length(id_n) = 15 AND regexp_matches(id_n, '^[0-9]{{15}}$') AS f15,
         CASE WHEN mobile_s LIKE '+86%' AND length(mobile_s) = 14 THEN substr(mobile_s, 4)
              WHEN mobile_s LIKE '0086%' AND length(mobile_s) = 15 THEN substr(mobile_s, 5)
              WHEN mobile_s LIKE '86%' AND length(mobile_s) = 13 THEN substr(mobile_s, 3)
              ELSE mobile_s END AS mobile_n
  FROM c
),
e AS (  -- the 17 digits as one integer (a 15-digit number with 19 inserted after the address code)
  SELECT *,
         CASE WHEN f18 THEN CAST(substr(id_n, 1, 17) AS BIGINT)
              WHEN f15 THEN CAST(substr(id_n, 1, 6) AS BIGINT) * 100000000000 + 19000000000
                            + CAST(substr(id_n, 7, 9) AS BIGINT) END AS id17,
         NOT regexp_matches(mobile_n, '[^0-9]') AS mobile_digits
  FROM d
),
f AS (
  SELECT *,
         CAST(id17 // 10000000 % 10000 AS INTEGER) AS id_y, CAST(id17 // 100000 % 100 AS INTEGER) AS id_m,
         CAST(id17 // 1000 % 100 AS INTEGER) AS id_d,
         CASE WHEN id17 IS NOT NULL THEN ({_CHECKSUM}) % 11 END AS id_sum,
         CASE WHEN mobile_digits AND length(mobile_n) = 11 THEN CAST(mobile_n AS BIGINT) END AS mobile_i
  FROM e
)
"""
    ascii_bit = {"mobile_s": (128, "p.mobile"), "phone_n": (256, "p.phone")}
    cleaned = ",\n         ".join(
        f"CASE WHEN (p.slow & {bit}) = 0 THEN {fast_expr}"
        + (
            f" WHEN (p.slow & {ascii_bit[name][0]}) <> 0 THEN custos_unseparated({ascii_bit[name][1]})"
            if name in ascii_bit
            else ""
        )
        + f" ELSE {slow_expr} END AS {name}"
        for name, bit, _, fast_expr, slow_expr in _CLEAN
    )
    return f"""
WITH c AS (
  SELECT {_PARTY_COLS},
         {cleaned}
  FROM (SELECT *, custos_slow(name, id_no, mobile, phone, address, postcode, email) AS slow FROM parties) p
),
e AS (SELECT *, custos_parts(id_n, mobile_s) AS q FROM c),
f AS (
  SELECT * EXCLUDE (q), q.f18 AS f18, q.f15 AS f15, q.mobile_n AS mobile_n, q.id17 AS id17,
         q.mobile_digits AS mobile_digits,
         CAST(q.id17 // 10000000 % 10000 AS INTEGER) AS id_y, CAST(q.id17 // 100000 % 100 AS INTEGER) AS id_m,
         CAST(q.id17 // 1000 % 100 AS INTEGER) AS id_d, q.id_sum AS id_sum, q.mobile_i AS mobile_i
  FROM e
)
"""


# The lookups of the prepared row: (column — also custos_lookup's field of it —, SQL, whether the
# native field may be NULL where the C code leaves the value to the SQL).
_LOOKUPS = (
    ("gb_known", "g.code IS NOT NULL", False),
    (
        "seg_valid",
        f"CASE WHEN f.mobile_i IS NOT NULL THEN {_segment_valid_int('f.mobile_i')}"
        f" ELSE {_segment_valid('f.mobile_n')} END",
        False,
    ),
    ("area_known", _area_known("f.phone_n"), True),
    ("name_ph", _in("lower(f.name_n)", _placeholders("name")), True),
    ("id_ph", _in("CASE WHEN f.f18 OR f.f15 THEN lower(f.id_n) END", _placeholders("id_no")), False),
    ("mobile_ph", _in("f.mobile_n", _placeholders("mobile")), False),
    (
        "addr_ph",
        _in(f"CASE WHEN strlen(f.addr_n) <= {_ADDR_PH_BYTES} THEN f.addr_n END", _placeholders("address")),
        False,
    ),
    ("prov", "f.prov", False),
    ("postcode_in_prov", _postcode_in_province("f.prov", "f.postcode_n"), False),
)


def _ptm_tail(native: bool) -> str:
    if native:
        lookups = ", ".join(
            f"coalesce(f.q_{name}, {sql}) AS {name}" if may_defer else f"f.q_{name} AS {name}"
            for name, sql, may_defer in _LOOKUPS
        )
        dots = "f.q_name_dots"
        q_cols = ", ".join(f"q.{name} AS q_{name}" for name, _, _ in _LOOKUPS)
        source = (
            f"(SELECT * EXCLUDE (q), {q_cols}, q.name_dots AS q_name_dots FROM (SELECT *, custos_lookup("
            "role, name_n, id_n, mobile_n, phone_n, addr_n, postcode_n) AS q FROM f) f0) f"
            "\nLEFT JOIN policies po ON po.policy_no = f.policy_no"
        )
    else:
        lookups = ", ".join(f"{sql} AS {name}" for name, sql, _ in _LOOKUPS)
        dots = f"regexp_matches(f.name_n, '[{DOT_VARIANTS}]')"
        source = f"""(SELECT *, CASE WHEN role = 'applicant' THEN {_province("addr_n")} END AS prov FROM f) f
LEFT JOIN policies po ON po.policy_no = f.policy_no
LEFT JOIN (SELECT DISTINCT code FROM ref_gb2260) g
  ON g.code = CASE WHEN f.f18 OR f.f15 THEN substr(f.id_n, 1, 6) END"""
    return f"""SELECT f.policy_no, f.role, f.seq, f.relation, f.gender, f.birth_date, f.id_type, f.id_valid_until,
       {", ".join(f"CASE WHEN f.{r} IS DISTINCT FROM f.{_NORM[r]} THEN f.{r} END AS {r}_x" for r in RAW)},
       CASE WHEN {dots} THEN translate(f.name_n, '{DOT_VARIANTS}', '{"·" * len(DOT_VARIANTS)}') END AS name_dx,
       f.name_n, f.id_n, f.mobile_n, f.phone_n, f.addr_n, f.postcode_n, f.email_n,
       f.f18, f.f15, f.id_type IN {RID_TYPES} AND f.f18 AS id18, f.id_type IN {RID_TYPES} AND f.f15 AS id15,
       f.id_y, f.id_m, f.id_d,
       f.id17, CASE WHEN f.id17 IS NOT NULL THEN CAST(f.id17 % 10 AS INTEGER) END AS id_sexdigit,
       CASE WHEN f.f18 THEN substr('10X98765432', f.id_sum + 1, 1) END AS id_check,
       CASE WHEN f.f15 THEN substr(f.id_n, 1, 6) || '19' || substr(f.id_n, 7, 9)
                            || substr('10X98765432', f.id_sum + 1, 1) END AS id_upgraded,
       f.mobile_digits, {lookups},
       po.applied_on
FROM {source}
"""


def _ptm(native: bool = False) -> str:
    return _ptm_head(native) + _ptm_tail(native)


_PTM = _ptm()

_DATE_REAL = """id_y IS NOT NULL AND id_m BETWEEN 1 AND 12 AND id_d BETWEEN 1 AND
                 CASE WHEN id_m = 2 THEN CASE WHEN (id_y % 4 = 0 AND id_y % 100 <> 0) OR id_y % 400 = 0
                                              THEN 29 ELSE 28 END
                      WHEN id_m IN (4, 6, 9, 11) THEN 30 ELSE 31 END"""

_PT = f"""
SELECT policy_no, role, seq, relation, gender, birth_date, id_type, id_valid_until,
       {", ".join(f"coalesce({r}_x, {_NORM[r]}) AS {r}" for r in RAW)}, {", ".join(f"{r}_x" for r in RAW)},
       coalesce(name_dx, name_n) AS name_d,
       name_n, id_n, mobile_n, phone_n, addr_n, postcode_n, email_n, f18, f15, id18, id15, id_y, id_m, id_d,
       id17, id_sexdigit, id_check, id_upgraded, gb_known, seg_valid, mobile_digits, area_known,
       name_ph, id_ph, mobile_ph, addr_ph, prov, postcode_in_prov, applied_on,
       {_DATE_REAL} AS id_date_real,
       CASE WHEN {_DATE_REAL} THEN make_date(id_y, id_m, id_d) END AS id_birth,
       CASE WHEN id_sexdigit % 2 = 1 THEN 'M' WHEN id_sexdigit IS NOT NULL THEN 'F' END AS id_gender,
       CASE WHEN id18 OR id15 THEN id_n ELSE name_n || '|' || CAST(birth_date AS VARCHAR) END AS pk,
       substr(name_n, 1, 1) AS surname
FROM ptm
"""


# --- The engines' form: normalisation and every single-row rule in ONE pass ------------------------
# ``PARTIES_FULL`` is ``pt`` computed straight from ``parties``; the engines materialise from it only
# what the cross-record checks read plus ``rule_mask`` (one bit per single-row rule, compiled by
# custos.checks.engine.compiler), so the wide row of flags is never written or scanned again.
def parties_full(native: bool = False) -> str:
    return _PT.replace("FROM ptm\n", f"FROM ({_ptm(native)}) ptm\n")


PARTIES_FULL = parties_full()
assert PARTIES_FULL != _PT
# Columns only the single-row findings' value/proposed read: kept for flagged parties only.
ROW_ONLY = ("id_type", "postcode", "id_valid_until", "id_upgraded")
# The contact values cross-record checks compare are the applicant's (addresses, e-mails) or the
# applicant's and insured's (phones): for other parties they are kept only when a single-row rule
# fired (their findings show the value) — long strings nobody reads are not written.
_ROLE_SCOPED = {
    "address_x": "('applicant')",
    "addr_n": "('applicant')",
    "email_x": "('applicant')",
    "email_n": "('applicant')",
    "mobile_x": "('applicant', 'insured')",
    "mobile_n": "('applicant', 'insured')",
    "phone_x": "('applicant', 'insured')",
    "phone_n": "('applicant', 'insured')",
    "mobile_digits": "('applicant', 'insured')",
}
# What the cross-record checks read besides the raw values (``{r}_x``, restored by ``pt``).
_NARROW_KEYS = ("policy_no", "role", "seq", "relation", "gender", "birth_date", "applied_on")
_NARROW_RAW = tuple(r for r in RAW if r != "postcode")  # the postcode is ROW_ONLY
_NARROW_DERIVED = (
    "name_n",
    "id_n",
    "mobile_n",
    "phone_n",
    "addr_n",
    "email_n",
    "id18",
    "id15",
    "id_birth",
    "id_gender",
    "mobile_digits",
)


def fused_ptm(mask: str, role_scoped: bool = True, native: bool = False) -> str:
    """The narrow party table with ``rule_mask`` (``mask``: a BIGINT expression over ``pt``'s columns);
    ``native``: with the custos_native DuckDB functions."""
    cols = [*_NARROW_KEYS, *(f"{r}_x" for r in _NARROW_RAW), *_NARROW_DERIVED]
    if role_scoped:
        cols = [
            f"CASE WHEN role IN {_ROLE_SCOPED[c]} OR rule_mask <> 0 THEN {c} END AS {c}"
            if c in _ROLE_SCOPED
            else c
            for c in cols
        ]
    keep = [f"CASE WHEN rule_mask <> 0 THEN {c} END AS {c}" for c in ROW_ONLY]
    return (
        f"SELECT {', '.join([*cols, *keep])}, rule_mask "
        f"FROM (SELECT *, {mask} AS rule_mask FROM ({parties_full(native)}) ptf) m"
    )


_PT_NARROW = f"""
SELECT {", ".join(_NARROW_KEYS)}, {", ".join(ROW_ONLY)},
       {", ".join(f"coalesce({r}_x, {_NORM[r]}) AS {r}" for r in _NARROW_RAW)},
       {", ".join(_NARROW_DERIVED)}, rule_mask,
       CASE WHEN id18 OR id15 THEN id_n ELSE name_n || '|' || CAST(birth_date AS VARCHAR) END AS pk,
       substr(name_n, 1, 1) AS surname
FROM ptm
"""

_SHARED: list[tuple[str, str, bool]] = [
    (  # the other party a relation refers to: the applicant for an insured, the insured (seq 1) for a beneficiary
        "rel",
        """
        SELECT x.policy_no, x.role, x.seq, x.relation, x.name, x.name_n, x.id_n, x.birth_date,
               coalesce(x.birth_date, x.id_birth) AS b, coalesce(x.gender, x.id_gender) AS sx,
               x.applied_on,
               coalesce(y.birth_date, y.id_birth) AS ob,
               y.name_n AS o_name, y.id_n AS o_id, y.birth_date AS o_birth_date
        FROM pt x JOIN pt y ON y.policy_no = x.policy_no AND y.seq = 1
          AND y.role = CASE x.role WHEN 'insured' THEN 'applicant' WHEN 'beneficiary' THEN 'insured' END
        WHERE x.role IN ('insured', 'beneficiary') AND x.relation IS NOT NULL
          -- implied by the join; said so that the scan drops the beneficiaries before probing (0.15 CPU s)
          AND y.role IN ('applicant', 'insured')
        """,
        True,
    ),
    (
        "stf",
        f"""
        SELECT staff_no, {clean("name")} AS name_n, upper({clean("id_no")}) AS id_n, {mobile("mobile")} AS mobile_n,
               mobile, {addr("address")} AS addr_n, left_on,
               CASE WHEN regexp_matches(upper({clean("id_no")}), '^[0-9]{{17}}[0-9X]$')
                    THEN TRY_CAST(substr(upper({clean("id_no")}), 7, 8) AS VARCHAR) END AS id_birth8
        FROM staff
        """,
        True,
    ),
    (
        "outlet_phone",
        f"""
        SELECT DISTINCT ph FROM (
          SELECT {digits("phone")} AS ph FROM partners UNION ALL SELECT {digits("phone")} AS ph FROM branches
        ) x WHERE ph IS NOT NULL
        """,
        True,
    ),
    (
        "outlet_addr",
        f"""
        SELECT DISTINCT a FROM (
          SELECT {addr("address")} AS a FROM partners UNION ALL SELECT {addr("address")} AS a FROM branches
        ) x WHERE a IS NOT NULL
        """,
        True,
    ),
    (  # persons linked as applicant and insured on one policy, in both directions
        "plink",
        """
        WITH pr AS (
          SELECT a.pk AS x, i.pk AS y FROM pt a JOIN pt i
            ON a.policy_no = i.policy_no AND a.role = 'applicant' AND i.role = 'insured'
          WHERE a.pk IS NOT NULL AND i.pk IS NOT NULL AND a.pk <> i.pk
        )
        SELECT x, y FROM pr UNION SELECT y AS x, x AS y FROM pr
        """,
        True,
    ),
]

# The screening evaluator's form (every column of ``pt`` materialised, rules evaluated over it).
PREPARE: list[tuple[str, str, bool]] = [("ptm", _PTM, True), ("pt", _PT, False), *_SHARED]


def prepare_fused(
    mask: str, role_scoped: bool = True, rel_filter: str | None = None, native: bool = False
) -> list[tuple[str, str, bool]]:
    """The engines' prepared tables; ``rel_filter`` (a condition over ``rel``'s columns) keeps only the
    relation rows an enabled RL check can report."""
    shared = [
        (name, f"SELECT * FROM ({sql}) r WHERE {rel_filter}" if name == "rel" and rel_filter else sql, mat)
        for name, sql, mat in _SHARED
    ]
    return [("ptm", fused_ptm(mask, role_scoped, native), True), ("pt", _PT_NARROW, False), *shared]
