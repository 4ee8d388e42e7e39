"""The prepared views every check reads, in DuckDB SQL (transpiled to Spark SQL by sqlglot).

Inputs (registered by the engine): the snapshot tables ``branches staff partners policies parties
changes visits blacklist`` and the reference tables ``ref_gb2260 ref_segments ref_area ref_provinces
ref_placeholders ref_numbers``. Outputs: ``pt`` (one row per party, with normalised and derived
columns and the policy's dates), ``stf`` (staff, normalised), ``outlet_phone``, ``outlet_addr``,
``plink`` (persons linked as applicant and insured on one policy).

Parameters are written ``${name}`` and filled from CheckSettings before compiling.
"""

from __future__ import annotations

from custos.domain.normalize import ADDRESS_DROP, FULLWIDTH, HALFWIDTH

RID_TYPES = "('resident_id', 'household_register')"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


_FW_CLASS = "[" + FULLWIDTH.replace("－", "") + "－]"  # any character translate() would change
_DROP_CLASS = "[" + ADDRESS_DROP.replace("-", "") + "-]"


def halfwidth(col: str) -> str:
    """translate() only where a full-width character occurs (translate is slow; the test is not)."""
    return (f"CASE WHEN regexp_matches({col}, {_lit(_FW_CLASS)}) "
            f"THEN translate({col}, {_lit(FULLWIDTH)}, {_lit(HALFWIDTH)}) ELSE {col} END")


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


def age(birth: str, at: str) -> str:
    """Whole years from birth to at."""
    return (
        f"(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + day({at}) "
        f"< month({birth}) * 100 + day({birth}) THEN 1 ELSE 0 END)"
    )


def ymd(d: str) -> str:
    return f"(year({d}) * 10000 + month({d}) * 100 + day({d}))"


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECKSUM = " + ".join(f"TRY_CAST(substr(id_n, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_WEIGHTS))
_CHECKSUM15 = " + ".join(  # the 15-digit number with 19 inserted after the address code
    f"TRY_CAST(substr(id_n, {i + 1 if i < 6 else i - 1}, 1) AS INTEGER) * {w}" if i not in (6, 7)
    else f"{1 if i == 6 else 9} * {w}"
    for i, w in enumerate(_WEIGHTS)
)

PREPARE: list[tuple[str, str, bool]] = [
    (
        "pt0",  # cleaned once, materialised: every later expression reads these columns
        f"""
        SELECT p.policy_no, p.role, CAST(p.seq AS BIGINT) AS seq, p.relation, p.name,
               {clean("p.name")} AS name_n, p.gender, p.birth_date, p.id_type, p.id_no,
               upper({clean("p.id_no")}) AS id_n, p.id_valid_until, p.mobile,
               regexp_replace({clean("p.mobile")}, '[ \\-()]', '', 'g') AS mobile_s,
               p.phone, regexp_replace({clean("p.phone")}, '[ \\-()]', '', 'g') AS phone_n,
               p.address, {addr("p.address")} AS addr_n, p.postcode, {clean("p.postcode")} AS postcode_n,
               p.email, lower({clean("p.email")}) AS email_n,
               po.applied_on, po.issued_on, po.agent_no, po.partner_code, po.branch_code
        FROM parties p LEFT JOIN policies po ON po.policy_no = p.policy_no
        """,
        True,
    ),
    (
        "pt1",
        """
        SELECT *, regexp_matches(id_n, '^[0-9]{17}[0-9X]$') AS f18, regexp_matches(id_n, '^[0-9]{15}$') AS f15,
               CASE WHEN mobile_s LIKE '+86%' AND length(mobile_s) = 14 THEN substr(mobile_s, 4)
                    WHEN mobile_s LIKE '0086%' AND length(mobile_s) = 15 THEN substr(mobile_s, 5)
                    WHEN mobile_s LIKE '86%' AND length(mobile_s) = 13 THEN substr(mobile_s, 3)
                    ELSE mobile_s END AS mobile_n
        FROM pt0
        """,
        False,
    ),
    (
        "pt2",
        f"""
        SELECT *,
               id_type IN {RID_TYPES} AND f18 AS id18,
               id_type IN {RID_TYPES} AND f15 AS id15,
               CASE WHEN f18 THEN TRY_CAST(substr(id_n, 7, 4) AS INTEGER)
                    WHEN f15 THEN 1900 + TRY_CAST(substr(id_n, 7, 2) AS INTEGER) END AS id_y,
               CASE WHEN f18 THEN TRY_CAST(substr(id_n, 11, 2) AS INTEGER)
                    WHEN f15 THEN TRY_CAST(substr(id_n, 9, 2) AS INTEGER) END AS id_m,
               CASE WHEN f18 THEN TRY_CAST(substr(id_n, 13, 2) AS INTEGER)
                    WHEN f15 THEN TRY_CAST(substr(id_n, 11, 2) AS INTEGER) END AS id_d,
               CASE WHEN f18 THEN TRY_CAST(substr(id_n, 17, 1) AS INTEGER)
                    WHEN f15 THEN TRY_CAST(substr(id_n, 15, 1) AS INTEGER) END AS id_sexdigit,
               CASE WHEN f18 THEN substr('10X98765432', ({_CHECKSUM}) % 11 + 1, 1) END AS id_check,
               CASE WHEN f15 THEN substr(id_n, 1, 6) || '19' || substr(id_n, 7, 9)
                         || substr('10X98765432', ({_CHECKSUM15}) % 11 + 1, 1) END AS id_upgraded
        FROM pt1
        """,
        False,
    ),
    (
        "pt",
        """
        SELECT *,
               id_y IS NOT NULL AND id_m BETWEEN 1 AND 12 AND id_d BETWEEN 1 AND
                 CASE WHEN id_m = 2 THEN CASE WHEN (id_y % 4 = 0 AND id_y % 100 <> 0) OR id_y % 400 = 0
                                              THEN 29 ELSE 28 END
                      WHEN id_m IN (4, 6, 9, 11) THEN 30 ELSE 31 END AS id_date_real,
               CASE WHEN id_y IS NOT NULL AND id_m BETWEEN 1 AND 12 AND id_d BETWEEN 1 AND
                 CASE WHEN id_m = 2 THEN CASE WHEN (id_y % 4 = 0 AND id_y % 100 <> 0) OR id_y % 400 = 0
                                              THEN 29 ELSE 28 END
                      WHEN id_m IN (4, 6, 9, 11) THEN 30 ELSE 31 END
                 THEN make_date(id_y, id_m, id_d) END AS id_birth,
               CASE WHEN id_sexdigit % 2 = 1 THEN 'M' WHEN id_sexdigit IS NOT NULL THEN 'F' END AS id_gender,
               CASE WHEN id18 OR id15 THEN id_n
                    ELSE name_n || '|' || CAST(birth_date AS VARCHAR) END AS pk,
               substr(name_n, 1, 1) AS surname
        FROM pt2
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
