"""The parties of a book as linkage records, in DuckDB in memory (nothing in clear touches the disk).

One row per party of the snapshot (`records`): a numeric ``unique_id``, the party's key
(``policy_no, role, seq``) and the columns the comparisons read:

- ``name_n`` the name without spaces, full-width forms folded; ``name_py`` its toneless pinyin
  (pypinyin reads simplified and traditional characters alike: 張偉 and 张伟 are both ``zhangwei``,
  and so are the homophones 章伟); ``surname_py`` the first syllable;
- ``birth_date`` and ``birth_year``; ``gender``;
- ``id18`` the ID number upper-cased, a 15-digit legacy number upgraded to its 18-digit form (GB11643:
  century 19 inserted, check digit computed with python-stdnum's ``cn.ric.calc_check_digit``), so
  that both forms of one number are equal; ``id_raw`` the number as normalised, before the upgrade;
- ``mobile_n`` digits only, without a leading 86; ``email_n`` lower-cased;
- ``addr_n`` the address without spaces; ``addr_street`` its road (or village group) and number,
  ``addr_estate`` its estate, building or village, when the address names them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

FULL = "０１２３４５６７８９ＸｘＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＹＺ　．•・"
HALF = "0123456789XxABCDEFGHIJKLMNOPQRSTUVWYZ ···"
# the road (or village group) with its number: 体育西路123号, 石门村3组45号
STREET_RE = "[^省市区县旗镇乡]{1,12}(路|街|大道|道|巷|弄|组)[0-9一二三四五六七八九十百零〇]+号"
# the estate, building or village: 锦绣花园, 阳光小区, 石门村
ESTATE_RE = "[^省市区县旗镇乡路街道号]{1,10}(小区|花园|新村|家园|公寓|大厦|广场|苑|村|社区)"
PARTY_COLUMNS = (
    "policy_no",
    "role",
    "seq",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_no",
    "mobile",
    "phone",
    "address",
    "postcode",
    "email",
    "occupation_code",
    "nationality",
    "id_valid_until",
)


def fold(expr: str) -> str:
    """SQL: full-width digits and letters folded, spaces removed, NULL when empty."""
    return f"NULLIF(replace(replace(translate(trim({expr}), '{FULL}', '{HALF}'), ' ', ''), chr(9), ''), '')"


def upgrade_15(id15: str) -> str:
    """The 18-digit form of a 15-digit resident ID (born 19xx)."""
    from stdnum.cn.ric import calc_check_digit

    id17 = id15[:6] + "19" + id15[6:]
    return id17 + calc_check_digit(id17 + "0")  # it takes the number with a check digit in place


def pinyin(name: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(p for p in lazy_pinyin(name) if p.strip() not in ("·", "", "-")).lower()


def surname_pinyin(name: str) -> str:
    from pypinyin import lazy_pinyin

    syll = lazy_pinyin(name[:1]) if name else []
    return syll[0].lower() if syll else ""


LINK_COLUMNS = (
    "policy_no",
    "role",
    "seq",
    "name",
    "gender",
    "birth_date",
    "id_no",
    "mobile",
    "email",
    "address",
)


def load_parties(
    con: duckdb.DuckDBPyConnection, snapshot_dir: Path, table: str = "parties_src", linking: bool = False
) -> int:
    """Create the temp table ``table`` over the snapshot's parties (and their policy's applied_on);
    return the number of parties. ``linking``: a view of the columns linking reads, without the
    policies (read once, by ``normalise``)."""
    from custos.crypto import snapshot as esnap

    if esnap.key_id(snapshot_dir) is not None:
        esnap.load_full_crypto(con)
    if linking:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {', '.join(LINK_COLUMNS)} "
            f"FROM {esnap.source(con, snapshot_dir, 'parties')}"
        )
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    cols = ", ".join(f"p.{c}" for c in PARTY_COLUMNS)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {cols}, pol.applied_on, pol.channel "
        f"FROM {esnap.source(con, snapshot_dir, 'parties')} p "
        f"LEFT JOIN {esnap.source(con, snapshot_dir, 'policies')} pol USING (policy_no)"
    )
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# The normalised party columns: a party whose values here are unchanged since the last run needs no
# relinking (incremental runs compare them with the stored records).
RAW = ("name_n", "gender", "birth_date", "id_raw", "mobile_n", "email_n", "addr_n")
RECORD_COLUMNS = (
    "unique_id",
    "raw_hash",
    "policy_no",
    "role",
    "seq",
    "name_n",
    "name_py",
    "surname_py",
    "gender",
    "birth_date",
    "birth_year",
    "id_raw",
    "id18",
    "mobile_n",
    "email_n",
    "addr_n",
    "addr_street",
    "addr_estate",
)


def build_records(con: duckdb.DuckDBPyConnection, src: str = "parties_src") -> int:
    """Create the temp table ``records`` from ``src``; return its row count."""
    normalise(con, src, "rec0")
    enrich(con, "rec0", "records")
    con.execute("DROP TABLE rec0")
    return con.execute("SELECT count(*) FROM records").fetchone()[0]


# a 64-bit hash of the party's columns linking reads, as given: an incremental run normalises only
# the parties whose hash differs from the stored one
RAW_HASH = "hash(name, gender, birth_date, id_no, mobile, email, address)"


def normalise(
    con: duckdb.DuckDBPyConnection, src: str = "parties_src", out: str = "rec0", where: str = ""
) -> None:
    """Create the temp table ``out``: ``unique_id`` (by key order), ``raw_hash``, the key and the
    ``RAW`` columns, of the rows of ``src`` (``where``: a condition on them). Plain SQL."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT row_number() OVER (ORDER BY policy_no, role, seq) AS unique_id, {RAW_HASH} AS raw_hash,
               policy_no, role, seq,
               {fold("name")} AS name_n,
               NULLIF(upper(trim(gender)), '') AS gender,
               birth_date,
               upper({fold("id_no")}) AS id_raw,
               NULLIF(regexp_replace(regexp_replace({fold("mobile")}, '[^0-9]', '', 'g'),
                      '^86(1[0-9]{{10}})$', '\\1'), '') AS mobile_n,
               lower({fold("email")}) AS email_n,
               {fold("address")} AS addr_n
        FROM {src} {where}"""
    )


def enrich(con: duckdb.DuckDBPyConnection, src: str = "rec0", out: str = "records") -> int:
    """Create the temp table ``out`` (``RECORD_COLUMNS``) from the normalised rows of ``src``: the
    pinyin of each distinct name (Python, pypinyin), the 18-digit form of each legacy number, the
    address parts."""
    names = [
        r[0] for r in con.execute(f"SELECT DISTINCT name_n FROM {src} WHERE name_n IS NOT NULL").fetchall()
    ]
    con.register(
        "name_map",
        pa.table(
            {
                "name_n": pa.array(names, pa.string()),
                "name_py": pa.array([pinyin(n) or None for n in names], pa.string()),
                "surname_py": pa.array([surname_pinyin(n) or None for n in names], pa.string()),
            }
        ),
    )
    legacy = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT id_raw FROM {src} WHERE regexp_full_match(id_raw, '[0-9]{{15}}')"
        ).fetchall()
    ]
    con.register(
        "id_map",
        pa.table(
            {
                "id_raw": pa.array(legacy, pa.string()),
                "id_up": pa.array([upgrade_15(i) for i in legacy], pa.string()),
            }
        ),
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT r.unique_id, r.raw_hash, r.policy_no, r.role, r.seq, r.name_n, n.name_py, n.surname_py,
               r.gender, r.birth_date, year(r.birth_date) AS birth_year, r.id_raw,
               coalesce(i.id_up, r.id_raw) AS id18, r.mobile_n, r.email_n, r.addr_n,
               NULLIF(regexp_extract(r.addr_n, '{STREET_RE}'), '') AS addr_street,
               NULLIF(regexp_extract(r.addr_n, '{ESTATE_RE}'), '') AS addr_estate
        FROM {src} r LEFT JOIN name_map n USING (name_n) LEFT JOIN id_map i USING (id_raw)
        ORDER BY r.unique_id"""
    )
    con.unregister("name_map")
    con.unregister("id_map")
    return con.execute(f"SELECT count(*) FROM {out}").fetchone()[0]


def diff(con: duckdb.DuckDBPyConnection, store: str, src: str = "parties_src", out: str = "fresh0") -> dict:
    """The parties of ``src`` that are new (key not in ``store``) or changed (``raw_hash`` differs),
    normalised into the temp table ``out`` with a ``changed`` flag: a changed row keeps its stored
    ``unique_id``, a new one is numbered after the highest stored. Only those rows are normalised.
    Returns {"new": n, "changed": n, "unchanged": n}."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE diff_keys AS
        SELECT h.policy_no, h.role, h.seq, s.unique_id AS old_uid
        FROM (SELECT policy_no, role, seq, {RAW_HASH} AS raw_hash FROM {src}) h
        LEFT JOIN {store} s USING (policy_no, role, seq)
        WHERE s.unique_id IS NULL OR s.raw_hash IS DISTINCT FROM h.raw_hash"""
    )
    normalise(con, src, "diff_rows", "SEMI JOIN diff_keys USING (policy_no, role, seq)")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        WITH top AS (SELECT coalesce(max(unique_id), 0) AS top FROM {store})
        SELECT coalesce(k.old_uid, (SELECT top FROM top)
                        + row_number() OVER (PARTITION BY k.old_uid IS NULL ORDER BY r.unique_id)) AS unique_id,
               k.old_uid IS NOT NULL AS changed, r.* EXCLUDE (unique_id)
        FROM diff_rows r JOIN diff_keys k USING (policy_no, role, seq)"""
    )
    con.execute("DROP TABLE diff_rows")
    con.execute("DROP TABLE diff_keys")
    new, chg = con.execute(
        f"SELECT count(*) FILTER (NOT changed), count(*) FILTER (changed) FROM {out}"
    ).fetchone()
    total = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    return {"new": new, "changed": chg, "unchanged": total - new - chg}
