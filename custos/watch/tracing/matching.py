"""Matching a leaked file's rows to the book's parties, in DuckDB.

The parties are an Arrow table ``(pk, policy_no, name, id_no, mobile, birth_date)`` in clear (the
book's encrypted snapshot, or the ORM for a book without one, or a benchmark's world). A leaked row
finds its candidates by any key it has — the whole ID or mobile, a masked ID or mobile by its
visible first 3 and last 4 digits, the policy number, name with birth date — and a candidate stays
when it satisfies every value the row shows (a masked value as a LIKE pattern: 张*伟 is ``张_伟``).
The row matches when the survivors are one person (the same ID number); a mask that fits two people
matches nobody. A row needs enough to go on: a whole ID or mobile, or two of masked ID, masked
mobile, name, birth date, or a masked ID showing 10 digits, or a policy number with a name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from custos.watch.tracing.leakfile import LeakRow

PARTY_SCHEMA = pa.schema(
    [
        ("pk", pa.int64()),
        ("policy_no", pa.string()),
        ("name", pa.string()),
        ("id_no", pa.string()),
        ("mobile", pa.string()),
        ("birth_date", pa.string()),
    ]
)


def strong(r: LeakRow) -> bool:
    """Does the row show enough of a person to be matched at all?"""
    if r.id_no or r.mobile:
        return True
    n = sum(bool(x) for x in (r.id_like, r.mobile_like, r.name or r.name_like, r.birth_date))
    if n >= 2:
        return True
    if r.id_like and sum(c.isdigit() for c in r.id_like) >= 10:
        return True
    return bool(r.policy_no and (r.name or r.name_like))


def _key(like: str) -> str:
    k = like[:3] + like[-4:] if len(like) >= 7 else ""
    return k if k.isdigit() else ""


@dataclass
class Match:
    rows: int  # leaked rows considered (with something of a person)
    weak: int  # rows showing too little to match
    matched_rows: list[int]  # leaked row numbers that matched one person
    persons: list[str]  # distinct persons matched (ID number, or "pk:<n>")
    policies: pa.Table  # (obj, policy_no): every policy of every matched person; obj indexes persons
    # the first matched rows: row, policy_no and the party's values IN CLEAR (the caller masks them)
    sample: list[dict] = field(default_factory=list)


LEAK_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("name", pa.string()),
        ("name_like", pa.string()),
        ("id_no", pa.string()),
        ("id_like", pa.string()),
        ("id_key", pa.string()),
        ("mobile", pa.string()),
        ("mobile_like", pa.string()),
        ("mob_key", pa.string()),
        ("policy_no", pa.string()),
        ("birth_date", pa.string()),
    ]
)


def leak_table(records: list[LeakRow]) -> pa.Table:
    cols: dict[str, list] = {f.name: [] for f in LEAK_SCHEMA}
    for r in records:
        cols["row"].append(r.row)
        for f in (
            "name",
            "name_like",
            "id_no",
            "id_like",
            "mobile",
            "mobile_like",
            "policy_no",
            "birth_date",
        ):
            cols[f].append(getattr(r, f))
        cols["id_key"].append(_key(r.id_like))
        cols["mob_key"].append(_key(r.mobile_like))
    return pa.table(cols, schema=LEAK_SCHEMA)


MATCH_SQL = """
WITH tp AS (
  SELECT pk, policy_no, coalesce(name, '') AS name, coalesce(id_no, '') AS id_no,
         coalesce(mobile, '') AS mobile, coalesce(birth_date, '') AS birth_date,
         CASE WHEN coalesce(id_no, '') <> '' THEN upper(id_no) ELSE 'pk:' || pk END AS person,
         CASE WHEN length(id_no) = 18 THEN left(id_no, 3) || right(id_no, 4) END AS id_key,
         CASE WHEN length(mobile) = 11 THEN left(mobile, 3) || right(mobile, 4) END AS mob_key
  FROM t_parties
),
cand AS (
  SELECT l.row, p.pk FROM t_leak l JOIN tp p ON p.id_no = l.id_no WHERE l.id_no <> ''
  UNION SELECT l.row, p.pk FROM t_leak l JOIN tp p ON p.mobile = l.mobile WHERE l.mobile <> ''
  UNION SELECT l.row, p.pk FROM t_leak l JOIN tp p ON p.id_key = l.id_key WHERE l.id_key <> ''
  UNION SELECT l.row, p.pk FROM t_leak l JOIN tp p ON p.mob_key = l.mob_key WHERE l.mob_key <> ''
  UNION SELECT l.row, p.pk FROM t_leak l JOIN tp p ON p.policy_no = l.policy_no WHERE l.policy_no <> ''
  UNION SELECT l.row, p.pk FROM t_leak l JOIN tp p ON p.name = l.name AND p.birth_date = l.birth_date
        WHERE l.name <> '' AND l.birth_date <> ''
),
ok AS (
  SELECT c.row, p.pk, p.person, p.policy_no, p.name, p.id_no, p.mobile FROM cand c JOIN t_leak l ON l.row = c.row JOIN tp p ON p.pk = c.pk
  WHERE (l.id_no = '' OR p.id_no = l.id_no) AND (l.id_like = '' OR p.id_no LIKE l.id_like)
    AND (l.mobile = '' OR p.mobile = l.mobile) AND (l.mobile_like = '' OR p.mobile LIKE l.mobile_like)
    AND (l.name = '' OR p.name = l.name) AND (l.name_like = '' OR p.name LIKE l.name_like)
    AND (l.birth_date = '' OR p.birth_date = l.birth_date)
)
SELECT row, min(person) AS person, min(pk) AS pk, min(policy_no) AS policy_no,
       min(name) AS name, min(id_no) AS id_no, min(mobile) AS mobile
FROM ok GROUP BY row HAVING count(DISTINCT person) = 1 ORDER BY row
"""


def match(con: duckdb.DuckDBPyConnection, parties, records: list[LeakRow], sample: int = 200) -> Match:
    """Match leaked rows to parties. `parties`: an Arrow table of PARTY_SCHEMA, or the name of a
    table or view on `con` with those columns."""
    usable = [r for r in records if strong(r)]
    con.register("t_leak", leak_table(usable))
    if isinstance(parties, str):
        con.execute(f"CREATE OR REPLACE TEMP VIEW t_parties AS SELECT * FROM {parties}")
    else:
        con.register("t_parties", parties)
    hits = con.execute(MATCH_SQL).fetchall()
    persons: dict[str, int] = {}
    for _row, person, *_rest in hits:
        persons.setdefault(person, len(persons))
    con.register(
        "t_persons",
        pa.table(
            {"person": list(persons), "obj": list(persons.values())},
            schema=pa.schema([("person", pa.string()), ("obj", pa.int64())]),
        ),
    )
    policies = con.execute(
        """
        SELECT DISTINCT t.obj, p.policy_no FROM t_persons t JOIN (
          SELECT policy_no, CASE WHEN coalesce(id_no, '') <> '' THEN upper(id_no) ELSE 'pk:' || pk END AS person
          FROM t_parties) p ON p.person = t.person
        """
    ).fetch_arrow_table()
    con.unregister("t_leak")
    return Match(
        rows=len(records),
        weak=len(records) - len(usable),
        matched_rows=[h[0] for h in hits],
        persons=list(persons),
        policies=policies,
        sample=[
            {"row": h[0], "policy_no": h[3], "name": h[4], "id_no": h[5], "mobile": h[6]}
            for h in hits[:sample]
        ],
    )
