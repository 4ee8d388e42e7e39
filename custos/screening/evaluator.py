"""The third evaluator: the catalogue's compiled SQL run on an in-memory SQLite database.

The DuckDB engine's SQL (`custos.checks.engine.compiler`) is transpiled by sqlglot to SQLite, exactly
as the Spark engine transpiles it to Spark SQL: the same check definitions, not a second copy of the
rules. DuckDB functions SQLite lacks are registered as Python functions with DuckDB's semantics
(regexp_matches/replace/extract with RE2 syntax mapped to Python's ``re``, translate, strlen, Unicode
lower/upper, dates as ISO text). Why not DuckDB itself: one execution of the compiled catalogue on a
handful of rows costs ~100 ms of CPU in DuckDB (operator set-up dominates), ~1 ms in SQLite.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from functools import cache, lru_cache

import sqlglot
from sqlglot import exp

from custos.checks.engine.snapshot import OPTIONAL_TABLES, REQUIRED_TABLES, table_columns

_SQLITE_TYPES = {
    "VARCHAR": "TEXT",
    "DATE": "TEXT",
    "TIMESTAMP": "TEXT",
    "BIGINT": "INTEGER",
    "DOUBLE": "REAL",
}
TABLES = (*REQUIRED_TABLES, *OPTIONAL_TABLES)


# --- SQL: DuckDB -> SQLite ------------------------------------------------------------------------


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.IntDiv):  # SQLite's / on integers is integer division; no float detour
        return exp.Paren(this=exp.Div(this=node.this, expression=node.expression, typed=True))
    if isinstance(node, exp.ArrayContains) and isinstance(node.this, exp.Array):  # no arrays in SQLite
        return exp.In(this=node.expression, expressions=list(node.this.expressions))
    if isinstance(node, (exp.Right, exp.Left)):  # keywords in SQLite (RIGHT JOIN)
        name = "duck_right" if isinstance(node, exp.Right) else "duck_left"
        return exp.Anonymous(this=name, expressions=[node.this, node.expression])
    return node


def _values(tree: exp.Expression) -> exp.Expression:
    """SQLite has no column aliases on VALUES: (VALUES (..)) AS t(a, b) -> SELECT .. AS a UNION ALL .."""
    for values in list(tree.find_all(exp.Values)):
        alias = values.args.get("alias")
        if not alias or not alias.columns:
            continue
        names = [c.name for c in alias.columns]
        selects = [
            exp.select(*[exp.alias_(v, n) for v, n in zip(row.expressions, names, strict=True)])
            for row in values.expressions
        ]
        union = selects[0]
        for s in selects[1:]:
            union = exp.union(union, s, distinct=False)
        values.replace(exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier(alias.name))))
    return tree


def _materialize(tree: exp.Expression) -> exp.Expression:
    """WITH x AS MATERIALIZED: SQLite would otherwise inline a CTE into each join and compute its
    expressions once per joined row."""
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", True)
    return tree


def _no_flattening(tree: exp.Expression) -> exp.Expression:
    """``LIMIT -1`` (no limit) on every derived table: SQLite then computes it once instead of
    flattening it into the join and recomputing its expressions for every joined row (the rule mask
    of the single-row checks would otherwise be evaluated once per rule)."""
    for sub in list(tree.find_all(exp.Subquery)):
        inner = sub.this
        if (
            isinstance(inner, exp.Select)
            and not inner.args.get("limit")
            and isinstance(sub.parent, exp.From | exp.Join)
        ):
            inner.set("limit", exp.Limit(expression=exp.Literal.number(-1)))
    return tree


def _static_subqueries(tree: exp.Expression, static: dict[str, str]) -> exp.Expression:
    """Replace each subquery that reads only reference tables (static for the process) by a table
    computed once: ``(SELECT DISTINCT code FROM ref_gb2260) g`` -> ``refq_1 AS g``. ``static`` maps the
    subquery's SQL to the table name; the caller creates the tables (``static_tables``)."""
    for sub in list(tree.find_all(exp.Subquery)):
        inner = sub.this
        if not isinstance(inner, exp.Select):
            continue
        tables = {t.name for t in inner.find_all(exp.Table)}
        if not tables or not all(t.startswith("ref_") for t in tables) or list(inner.find_all(exp.Subquery)):
            continue
        text = inner.sql(dialect="sqlite")
        name = static.setdefault(text, f"refq_{len(static) + 1}")
        alias = sub.args.get("alias")
        sub.replace(exp.Table(this=exp.to_identifier(name), alias=alias))
    return tree


STATIC: dict[str, str] = {}  # subquery SQL over ref_* tables -> name of its precomputed table


@cache
def to_sqlite(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = _values(tree).transform(_fix)
    tree = _static_subqueries(_no_flattening(_materialize(tree)), STATIC)
    return tree.sql(dialect="sqlite")


def static_tables(con) -> None:
    """Create (once) the precomputed reference subqueries that to_sqlite has referred to so far."""
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for text, name in list(STATIC.items()):
        if name not in have:
            con.execute(f"CREATE TABLE {name} AS {text}")
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
            con.execute(f"CREATE INDEX {name}_ix ON {name} ({', '.join(cols)})")


# --- functions DuckDB has and SQLite lacks ---------------------------------------------------------

_X = re.compile(r"\\x\{([0-9A-Fa-f]+)\}")


@lru_cache(maxsize=512)
def _re(pattern: str) -> re.Pattern:
    return re.compile(_X.sub(lambda m: chr(int(m.group(1), 16)), pattern))


def _regexp(pattern, value):
    if pattern is None or value is None:
        return None
    return 1 if _re(pattern).search(value) else 0


def _regexp_replace(value, pattern, repl, flags=""):
    if value is None or pattern is None or repl is None:
        return None
    return _re(pattern).sub(repl.replace("\\", "\\\\"), value, count=0 if flags and "g" in flags else 1)


def _regexp_extract(value, pattern, group=0):
    if value is None or pattern is None:
        return None
    m = _re(pattern).search(value)
    return (m.group(group) or "") if m else ""


@lru_cache(maxsize=64)
def _table(src: str, dst: str) -> dict:
    out = {}
    for i, c in enumerate(src):
        if ord(c) not in out:
            out[ord(c)] = dst[i] if i < len(dst) else None
    return out


def _translate(value, src, dst):
    if value is None or src is None or dst is None:
        return None
    return value.translate(_table(src, dst))


def _none(f):
    def g(*args):
        return None if any(a is None for a in args) else f(*args)

    return g


def _date(v) -> dt.date:
    return dt.date.fromisoformat(str(v)[:10])


def _make_date(y, m, d):
    if y is None or m is None or d is None:
        return None
    return dt.date(int(y), int(m), int(d)).isoformat()


class _ArgMax:
    def __init__(self):
        self.best, self.key = None, None

    def step(self, value, key):
        if key is not None and (self.key is None or key > self.key):
            self.best, self.key = value, key

    def finalize(self):
        return self.best


FUNCTIONS = {
    "regexp": (2, _regexp),
    "regexp_replace": (-1, _regexp_replace),
    "regexp_extract": (-1, _regexp_extract),
    "translate": (3, _translate),
    "contains": (2, lambda s, sub: None if s is None or sub is None else (sub in s)),
    "ends_with": (2, lambda s, sub: None if s is None or sub is None else s.endswith(sub)),
    "starts_with": (2, lambda s, sub: None if s is None or sub is None else s.startswith(sub)),
    "strlen": (1, lambda s: None if s is None else len(str(s).encode())),
    "lower": (1, lambda s: None if s is None else str(s).lower()),
    "upper": (1, lambda s: None if s is None else str(s).upper()),
    "duck_right": (2, _none(lambda s, n: s[-int(n) :] if int(n) > 0 else "")),
    "duck_left": (2, _none(lambda s, n: s[: int(n)])),
    "repeat": (2, _none(lambda s, n: s * int(n))),
    "year": (1, lambda d: None if d is None else int(str(d)[:4])),
    "month": (1, lambda d: None if d is None else int(str(d)[5:7])),
    "day": (1, lambda d: None if d is None else int(str(d)[8:10])),
    "date_from_parts": (3, _make_date),
}


def connect() -> sqlite3.Connection:
    con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for name, (n, f) in FUNCTIONS.items():
        con.create_function(name, n, f, deterministic=True)
    con.create_aggregate("arg_max", 2, _ArgMax)
    return con


def create_tables(con: sqlite3.Connection) -> None:
    for name in TABLES:
        cols = ", ".join(f"{c} {_SQLITE_TYPES[t]}" for c, t in table_columns(name))
        con.execute(f"CREATE TABLE {name} ({cols})")


# --- the evaluator: one per process ----------------------------------------------------------------


def _sql_value(v):
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


class Evaluator:
    """The compiled catalogue on an in-memory SQLite database, refilled for each application.

    ``evaluate(tables, policy_nos)`` takes the application's rows and its context rows (dicts with
    book-format columns, per table) and returns the findings of ``policy_nos`` with the output columns
    of the engines. Not thread-safe: one per process (gunicorn workers are processes).
    """

    def __init__(self, settings=None):
        import custos.checks.engine  # noqa: F401  (the catalogue imports the engine package first)
        from custos.checks.catalogue import BY_CODE, CheckSettings
        from custos.checks.engine.compiler import (
            ORDER,
            check_sql,
            enabled_codes,
            prepare_statements,
            single_row_sql,
        )
        from custos.checks.engine.refload import all_ref_tables, ref_rows

        self.settings = settings or CheckSettings()
        con = self.con = connect()
        create_tables(con)
        con.execute("CREATE TABLE app_policy (policy_no TEXT PRIMARY KEY)")
        for name in all_ref_tables():
            cols, data = ref_rows(name)
            con.execute(f"CREATE TABLE {name} ({', '.join(cols)})")
            con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", data)
        # The prepared tables (ptm, pt, rel, stf, outlet_phone, outlet_addr, plink), all materialised here.
        self.prepare = [(name, to_sqlite(sql)) for name, sql, _ in prepare_statements("duckdb")]
        codes = enabled_codes(self.settings)
        # Single-row rules only over the application's parties (context rows only feed cross-record
        # checks); the query checks over everything; then only the application's findings.
        source = "(SELECT * FROM pt WHERE policy_no IN (SELECT policy_no FROM app_policy)) app_pt"
        parts = []
        single = single_row_sql([c for c in codes if BY_CODE[c].single_row], self.settings, source)
        if single:
            parts.append(single)
        parts += [check_sql(c, self.settings) for c in codes if not BY_CODE[c].single_row]
        query = (
            f"SELECT * FROM ({' UNION ALL '.join(parts)}) found "
            f"WHERE policy_no IN (SELECT policy_no FROM app_policy) {ORDER}"
        )
        self.query = to_sqlite(query)
        static_tables(con)
        for name, sql in self.prepare:
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM ({sql}) WHERE 0")
        self.keys_query = to_sqlite(keys_sql())
        self._filled: set[str] = set(TABLES)
        self.columns = {n: [c for c, _ in table_columns(n)] for n in TABLES}
        self.inserts = {
            n: f"INSERT INTO {n} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for n, cols in self.columns.items()
        }

    def _fill(self, tables: dict[str, list[dict]], policy_nos, prepare=None) -> None:
        con = self.con
        for name in (*self._filled, "app_policy", *(n for n, _ in self.prepare)):
            con.execute(f"DELETE FROM {name}")
        self._filled = set()
        con.executemany("INSERT OR IGNORE INTO app_policy VALUES (?)", [(p,) for p in policy_nos])
        self._insert(tables)
        for name, sql in prepare or self.prepare:
            con.execute(f"INSERT INTO {name} {sql}")

    def _insert(self, tables: dict[str, list[dict]]) -> None:
        for name, rows in tables.items():
            if rows:
                cols = self.columns[name]
                self.con.executemany(self.inserts[name], [[_sql_value(r.get(c)) for c in cols] for r in rows])
                self._filled.add(name)

    def keys(self, tables: dict[str, list[dict]], policy_nos) -> list[dict]:
        """The normalised values of the application's parties the context is looked up by (the engine's
        own prepared columns: ``pt.id_n``, ``mobile_n``…), one dict per party."""
        self._fill(tables, policy_nos, self.prepare[:2])  # ptm and pt are enough for the keys
        cur = self.con.execute(self.keys_query)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def evaluate(self, tables: dict[str, list[dict]], policy_nos) -> list[dict]:
        self._fill(tables, policy_nos)
        return self._run()

    def evaluate_more(self, tables: dict[str, list[dict]], policy_nos) -> list[dict]:
        """After ``keys``: add ``tables`` (the context) to the application's rows already in place,
        prepare again, evaluate."""
        con = self.con
        for name, _ in self.prepare:
            con.execute(f"DELETE FROM {name}")
        self._insert(tables)
        for name, sql in self.prepare:
            con.execute(f"INSERT INTO {name} {sql}")
        return self._run()

    def _run(self) -> list[dict]:
        cur = self.con.execute(self.query)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# The lookup keys of a party, from the engine's prepared view ``pt`` (the same expressions the checks
# compare): identity (pk), ID number, mobile, address, e-mail, name, digits of mobile and fixed line
# (outlet phones), and AD04's own blocking key of the address (street token and prefix, taken from
# the check's SQL by ``ad04_blocking``) to find the outlets it can be compared with.
def keys_sql() -> str:
    k1, k2 = ad04_blocking()
    return f"""
SELECT q.*, {k1} AS block1, {k2} AS block2 FROM (
  SELECT policy_no, role, seq, id_n, mobile_n, phone_n, addr_n, email_n, name_n, pk,
         regexp_replace(mobile_n, '[^0-9]', '', 'g') AS mobile_digits_k,
         regexp_replace(phone_n, '[^0-9]', '', 'g') AS phone_digits_k,
         addr_n AS a
  FROM pt
) q
"""


@cache
def ad04_blocking() -> tuple[str, str]:
    """AD04's blocking expressions over its address column ``a`` — the street token (k1) and the
    prefix (k2) of its candidate pairs — read from the check's own SQL (DuckDB dialect), so the
    outlets fetched for an applicant are exactly those AD04 could pair it with, by its definition."""
    from custos.checks.catalogue import BY_CODE, CheckSettings

    tree = sqlglot.parse_one(BY_CODE["AD04"].compiled(CheckSettings().params_for("AD04")), read="duckdb")
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "ko":
            got = {
                e.alias: e.this.sql(dialect="duckdb")
                for e in cte.this.expressions
                if isinstance(e, exp.Alias)
            }
            if "k1" in got and "k2" in got:
                return got["k1"], got["k2"]
    raise RuntimeError("AD04's SQL has no blocking CTE 'ko' (k1, k2): custos.screening must follow it")
