"""XC01–XC03: what one person's records say against each other, as findings of the check run.

Registered with custos.checks.sources (apps.py): every check run of a load that has been linked
computes them from the load's snapshot (DuckDB in memory) and the persons, so they open, stay open
and close like every other finding. Per person and field, the *reference* value is the one most of
the earliest policy carries (an ID number with a valid check digit first; ties: the value more
records carry). A value that came later and differs is the one to verify:

- XC01 (birth date, gender, ID number): a record whose value differs from the reference, unless the
  ID numbers are one typo apart (that is XC03). Proposed: the reference value.
- XC02: a field empty on a record and known on another record of the person. Proposed: the value of
  the latest policy that has one; a person confirms it in remediation.
- XC03: an 18-digit ID number one digit off or with two adjacent digits transposed from the
  reference. Proposed: the reference number.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from custos.checks.sources import SourceCheck, SourceResult

CHECKS = [
    SourceCheck(
        "XC01",
        "suspicious",
        "medium",
        "同一客户在不同保单或渠道的出生日期、性别或证件号码互相矛盾",
        "One customer (linked across policies and channels) carries conflicting birth dates, genders or ID numbers",
        "Practice",
    ),
    SourceCheck(
        "XC02",
        "missing",
        "low",
        "此处缺失的信息在同一客户的其他保单或渠道中已知：建议补全，待人工确认",
        "A value missing here is known for the same customer on another policy or channel: "
        "custos proposes it, a person confirms it",
        "M82",
    ),
    SourceCheck(
        "XC03",
        "suspicious",
        "medium",
        "同一客户的两个证件号码仅差一位或相邻两位颠倒（疑似录入错误）",
        "Two ID numbers of one customer differ by one digit or one transposition (likely a typing error)",
        "GB11643",
    ),
]
CODES = [c.code for c in CHECKS]
STABLE = {"birth_date": "CAST(birth_date AS VARCHAR)", "gender": "gender", "id_no": "id18"}
TEXT = "CAST({c} AS VARCHAR)"


def source(load) -> SourceResult | None:
    """The check-run hook: XC findings of ``load`` when it has been linked, else None."""
    from custos.identity.models import LinkRun

    if not LinkRun.objects.filter(load=load, status=LinkRun.Status.DONE).exists():
        return None
    return SourceResult(checks=CHECKS, table=compute(Path(load.snapshot_path)), enabled=list(CODES))


def _persons() -> pa.Table:
    from custos.identity.models import PersonRecord

    rows = list(
        PersonRecord.objects.values_list("policy_no", "role", "seq", "person__number").iterator(
            chunk_size=10000
        )
    )
    return pa.table(
        {
            "policy_no": pa.array([r[0] for r in rows], pa.string()),
            "role": pa.array([r[1] for r in rows], pa.string()),
            "seq": pa.array([r[2] for r in rows], pa.int64()),
            "person": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def compute(snapshot_dir: Path, fill_fields: list[str] | None = None) -> pa.Table:
    from custos.checks.engine import FINDING_SCHEMA
    from custos.crypto.snapshot import offline_connect
    from custos.identity.conf import conf
    from custos.identity.engine import features

    fill_fields = fill_fields or list(conf()["fill_fields"])
    con = offline_connect()
    try:
        features.load_parties(con, snapshot_dir)
        features.build_records(con)
        con.register("persons_in", _persons())
        # one row per record of a person with two or more records in this load
        con.execute(
            """CREATE TEMP TABLE pr AS
            SELECT p.*, r.id18, r.id_raw, pe.person,
                   CASE WHEN length(r.id18) = 18 AND regexp_full_match(r.id18, '[0-9]{17}[0-9X]') THEN
                     substr('10X98765432', 1 + CAST(list_sum(list_transform(range(17), i ->
                       CAST(substr(r.id18, i + 1, 1) AS INTEGER) * CAST(pow(2, 17 - i) AS BIGINT) % 11)) % 11 AS INTEGER), 1)
                     = substr(r.id18, 18, 1) ELSE false END AS id_valid
            FROM parties_src p
            JOIN records r USING (policy_no, role, seq)
            JOIN persons_in pe USING (policy_no, role, seq)
            WHERE pe.person IN (SELECT person FROM persons_in pe2
                                JOIN parties_src q USING (policy_no, role, seq)
                                GROUP BY person HAVING count(*) > 1)"""
        )
        parts = []
        for field, expr in STABLE.items():
            raw = "id_raw" if field == "id_no" else TEXT.format(c=field)
            parts.append(_stable_sql(field, expr, raw))
        for field in fill_fields:
            value = TEXT.format(c=field)
            parts.append(_fill_sql(field, value))
        sql = " UNION ALL ".join(parts)
        found = con.execute(
            f'SELECT * FROM ({sql}) ORDER BY "check", policy_no, role, seq, field'
        ).fetch_arrow_table()
    finally:
        con.close()
    return found.cast(FINDING_SCHEMA)


def _stable_sql(field: str, expr: str, raw: str) -> str:
    from custos.identity.engine.model import ONE_TYPO

    code = "'XC01'"
    if field == "id_no":
        code = f"CASE WHEN {ONE_TYPO.format(a='v', b='ref', n=18)} THEN 'XC03' ELSE 'XC01' END"
    valid = "bool_or(id_valid)" if field == "id_no" else "false"
    return f"""
    SELECT {code} AS "check",
           policy_no, role, seq, '{field}' AS field, raw AS value, ref_raw AS proposed,
           'values=' || n_values AS detail
    FROM (
      SELECT x.*, arg_min(v, rank_key) OVER w AS ref, arg_min(v_raw, rank_key) OVER w AS ref_raw,
             count(DISTINCT v) OVER (PARTITION BY person) AS n_values
      FROM (
        SELECT x0.*, struct_pack(o := NOT ok, d := coalesce(first_on, DATE '9999-12-31'), c := -cnt, v := v)
               AS rank_key
        FROM (
        SELECT t.*, count(*) OVER (PARTITION BY person, v) AS cnt,
               min(applied_on) OVER (PARTITION BY person, v) AS first_on,
               {"bool_or(id_valid) OVER (PARTITION BY person, v)" if valid != "false" else "false"} AS ok,
               first(raw) OVER (PARTITION BY person, v ORDER BY applied_on, policy_no) AS v_raw
        FROM (SELECT person, policy_no, role, seq, applied_on, id_valid, {expr} AS v, {raw} AS raw
              FROM pr WHERE {expr} IS NOT NULL) t
      ) x0
      ) x
      WINDOW w AS (PARTITION BY person)
    ) y
    WHERE v <> ref"""


def _fill_sql(field: str, value: str) -> str:
    known = f"NULLIF(trim({value}), '')"
    return f"""
    SELECT 'XC02' AS "check", policy_no, role, seq, '{field}' AS field, '' AS value, fill AS proposed,
           'candidates=' || n AS detail
    FROM (
      SELECT person, policy_no, role, seq, {known} AS v,
             arg_max({known}, CASE WHEN {known} IS NOT NULL THEN struct_pack(
               d := coalesce(applied_on, DATE '1900-01-01'), p := policy_no, r := role, s := seq) END)
               OVER (PARTITION BY person) AS fill,
             count(DISTINCT {known}) OVER (PARTITION BY person) AS n
      FROM pr
    ) z
    WHERE v IS NULL AND fill IS NOT NULL"""
