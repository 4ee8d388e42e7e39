"""The prepared tables every check reads, in DuckDB SQL (transpiled to Spark SQL by sqlglot).

Inputs (registered by the engine): the snapshot tables ``branches staff partners policies parties
changes visits blacklist`` and the reference tables ``ref_gb2260 ref_segments ref_area ref_provinces
ref_placeholders ref_numbers``. Outputs: ``ptm`` (materialised once: one row per party with only the
columns the checks read — normalised values, ID parts, reference-table lookups as flags, the
policy's application date, and each raw value only where it differs from its normalised form),
``pt`` (a view over ``ptm`` restoring the raw values and cheap derived keys), ``stf`` (staff,
normalised), ``outlet_phone``, ``outlet_addr``, ``plink`` (persons linked as applicant and insured
on one policy).

Speed: a party is cleaned in one pass. Every normalisation takes a cheap fast path (byte length =
character length, no blank or separator) when the value is already in normal form, and the exact
slow path (``translate``, ``regexp_replace``…) only otherwise; ID parts come from integer arithmetic
on the 17 digits, not from one substring per digit. Parameters are written ``${name}`` and filled
from CheckSettings before compiling.
"""

from __future__ import annotations

from custos.domain.normalize import ADDRESS_DROP, FULLWIDTH, HALFWIDTH

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


def fast(col: str, chars: str, fast_expr: str, slow_expr: str) -> str:
    """``fast_expr`` when the value is plain ASCII without ``chars``, else the exact ``slow_expr``."""
    return f"CASE WHEN {_ascii_plain(col, chars)} THEN {fast_expr} ELSE {slow_expr} END"


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


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# GB11643 weighted sum over the 17 digits of the integer id17 (digit i = id17 DIV 10^(16-i) % 10)
_CHECKSUM = " + ".join(f"(id17 // {10 ** (16 - i)} % 10) * {w}" for i, w in enumerate(_WEIGHTS))
_PH = "(SELECT DISTINCT value FROM ref_placeholders WHERE kind = '{}')"
_PROV = "(SELECT DISTINCT province_code, short_name FROM ref_provinces)"
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
_MOBILE_S = fast(
    "p.mobile", " -()", "NULLIF(p.mobile, '')", f"regexp_replace({clean('p.mobile')}, {_SEP}, '', 'g')"
)
_PHONE_N = fast(
    "p.phone", " -()", "NULLIF(p.phone, '')", f"regexp_replace({clean('p.phone')}, {_SEP}, '', 'g')"
)

_PTM = f"""
WITH c AS (
  SELECT p.policy_no, p.role, CAST(p.seq AS BIGINT) AS seq, p.relation, p.gender, p.birth_date, p.id_type,
         p.id_valid_until, p.name, p.id_no, p.mobile, p.phone, p.address, p.postcode, p.email,
         CASE WHEN regexp_matches(p.name, {_lit(_NAME_SPECIAL)}) THEN {clean("p.name")}
              ELSE NULLIF(p.name, '') END AS name_n,
         {fast("p.id_no", " ", "NULLIF(upper(p.id_no), '')", f"upper({clean('p.id_no')})")} AS id_n,
         {_MOBILE_S} AS mobile_s,
         {_PHONE_N} AS phone_n,
         CASE WHEN regexp_matches(p.address, {_lit(_ADDR_SPECIAL)}) THEN {addr("p.address")}
              ELSE NULLIF(p.address, '') END AS addr_n,
         {fast("p.postcode", " ", "NULLIF(p.postcode, '')", clean("p.postcode"))} AS postcode_n,
         {fast("p.email", " ", "NULLIF(lower(p.email), '')", f"lower({clean('p.email')})")} AS email_n
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
                            + CAST(substr(id_n, 7, 9) AS BIGINT) END AS id17
  FROM d
),
f AS (
  SELECT *,
         CAST(id17 // 10000000 % 10000 AS INTEGER) AS id_y, CAST(id17 // 100000 % 100 AS INTEGER) AS id_m,
         CAST(id17 // 1000 % 100 AS INTEGER) AS id_d,
         CASE WHEN id17 IS NOT NULL THEN ({_CHECKSUM}) % 11 END AS id_sum
  FROM e
)
SELECT f.policy_no, f.role, f.seq, f.relation, f.gender, f.birth_date, f.id_type, f.id_valid_until,
       {", ".join(f"CASE WHEN f.{r} IS DISTINCT FROM f.{_NORM[r]} THEN f.{r} END AS {r}_x" for r in RAW)},
       CASE WHEN regexp_matches(f.name_n, '[•・‧∙⋅]') THEN translate(f.name_n, '•・‧∙⋅', '·····') END AS name_dx,
       f.name_n, f.id_n, f.mobile_n, f.phone_n, f.addr_n, f.postcode_n, f.email_n,
       f.f18, f.f15, f.id_type IN {RID_TYPES} AND f.f18 AS id18, f.id_type IN {RID_TYPES} AND f.f15 AS id15,
       f.id_y, f.id_m, f.id_d,
       CASE WHEN f.id17 IS NOT NULL THEN CAST(f.id17 % 10 AS INTEGER) END AS id_sexdigit,
       CASE WHEN f.f18 THEN substr('10X98765432', f.id_sum + 1, 1) END AS id_check,
       CASE WHEN f.f15 THEN substr(f.id_n, 1, 6) || '19' || substr(f.id_n, 7, 9)
                            || substr('10X98765432', f.id_sum + 1, 1) END AS id_upgraded,
       g.code IS NOT NULL AS gb_known,
       coalesce(s4.valid, s3.valid, 0) AS seg_valid,
       NOT regexp_matches(f.mobile_n, '[^0-9]') AS mobile_digits,
       ar.area_code IS NOT NULL AS area_known,
       phn.value IS NOT NULL AS name_ph, phi.value IS NOT NULL AS id_ph, phm.value IS NOT NULL AS mobile_ph,
       pha.value IS NOT NULL AS addr_ph,
       coalesce(r3.province_code, r2.province_code) AS prov, pp.province_code IS NOT NULL AS postcode_in_prov,
       po.applied_on
FROM f
LEFT JOIN policies po ON po.policy_no = f.policy_no
LEFT JOIN (SELECT DISTINCT code FROM ref_gb2260) g
  ON g.code = CASE WHEN f.f18 OR f.f15 THEN substr(f.id_n, 1, 6) END
LEFT JOIN ref_segments s4 ON s4.prefix = substr(f.mobile_n, 1, 4)
LEFT JOIN ref_segments s3 ON s3.prefix = substr(f.mobile_n, 1, 3)
LEFT JOIN (SELECT DISTINCT area_code FROM ref_area) ar
  ON ar.area_code = CASE WHEN substr(f.phone_n, 2, 1) IN ('1', '2') THEN substr(f.phone_n, 2, 2)
                         ELSE substr(f.phone_n, 2, 3) END
LEFT JOIN {_PH.format("name")} phn ON phn.value = lower(f.name_n)
LEFT JOIN {_PH.format("id_no")} phi ON phi.value = CASE WHEN f.f18 OR f.f15 THEN lower(f.id_n) END
LEFT JOIN {_PH.format("mobile")} phm ON phm.value = f.mobile_n
LEFT JOIN {_PH.format("address")} pha ON pha.value = f.addr_n
LEFT JOIN {_PROV} r2 ON r2.short_name = CASE WHEN f.role = 'applicant' THEN substr(f.addr_n, 1, 2) END
LEFT JOIN {_PROV} r3 ON r3.short_name = CASE WHEN f.role = 'applicant' THEN substr(f.addr_n, 1, 3) END
LEFT JOIN (SELECT DISTINCT province_code, postcode_prefix FROM ref_provinces) pp
  ON pp.province_code = coalesce(r3.province_code, r2.province_code) AND pp.postcode_prefix = substr(f.postcode_n, 1, 2)
"""

_DATE_REAL = """id_y IS NOT NULL AND id_m BETWEEN 1 AND 12 AND id_d BETWEEN 1 AND
                 CASE WHEN id_m = 2 THEN CASE WHEN (id_y % 4 = 0 AND id_y % 100 <> 0) OR id_y % 400 = 0
                                              THEN 29 ELSE 28 END
                      WHEN id_m IN (4, 6, 9, 11) THEN 30 ELSE 31 END"""

_PT = f"""
SELECT policy_no, role, seq, relation, gender, birth_date, id_type, id_valid_until,
       {", ".join(f"coalesce({r}_x, {_NORM[r]}) AS {r}" for r in RAW)},
       coalesce(name_dx, name_n) AS name_d,
       name_n, id_n, mobile_n, phone_n, addr_n, postcode_n, email_n, f18, f15, id18, id15, id_y, id_m, id_d,
       id_sexdigit, id_check, id_upgraded, gb_known, seg_valid, mobile_digits, area_known,
       name_ph, id_ph, mobile_ph, addr_ph, prov, postcode_in_prov, applied_on,
       {_DATE_REAL} AS id_date_real,
       CASE WHEN {_DATE_REAL} THEN make_date(id_y, id_m, id_d) END AS id_birth,
       CASE WHEN id_sexdigit % 2 = 1 THEN 'M' WHEN id_sexdigit IS NOT NULL THEN 'F' END AS id_gender,
       CASE WHEN id18 OR id15 THEN id_n ELSE name_n || '|' || CAST(birth_date AS VARCHAR) END AS pk,
       substr(name_n, 1, 1) AS surname
FROM ptm
"""

PREPARE: list[tuple[str, str, bool]] = [
    ("ptm", _PTM, True),
    ("pt", _PT, False),
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
    (
        "plink",
        """
        SELECT a.pk AS x, i.pk AS y FROM pt a JOIN pt i
          ON a.policy_no = i.policy_no AND a.role = 'applicant' AND i.role = 'insured'
        WHERE a.pk IS NOT NULL AND i.pk IS NOT NULL AND a.pk <> i.pk
        UNION
        SELECT i.pk AS x, a.pk AS y FROM pt a JOIN pt i
          ON a.policy_no = i.policy_no AND a.role = 'applicant' AND i.role = 'insured'
        WHERE a.pk IS NOT NULL AND i.pk IS NOT NULL AND a.pk <> i.pk
        """,
        True,
    ),
]
