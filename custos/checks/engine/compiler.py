"""Compile the catalogue into engine SQL: DuckDB as written, Spark SQL through sqlglot."""

from __future__ import annotations

from functools import cache

import sqlglot

from custos.checks.catalogue import BY_CODE, CATALOGUE, CheckSettings
from custos.checks.engine.prepare import PREPARE

OUTPUT_COLUMNS = ("check", "policy_no", "role", "seq", "field", "value", "proposed")
ORDER = 'ORDER BY "check", policy_no, role, seq, field, value'


@cache
def _transpile(sql: str, dialect: str) -> str:
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]


def check_sql(code: str, settings: CheckSettings) -> str:
    """One check's findings with the output columns, in DuckDB SQL."""
    body = BY_CODE[code].compiled(settings.params_for(code))
    return (
        f"SELECT '{code}' AS \"check\", CAST(policy_no AS VARCHAR) AS policy_no, CAST(role AS VARCHAR) AS role, "
        f"CAST(seq AS BIGINT) AS seq, CAST(field AS VARCHAR) AS field, CAST(value AS VARCHAR) AS value, "
        f"CAST(proposed AS VARCHAR) AS proposed FROM ({body}) q_{code}"
    )


def enabled_codes(settings: CheckSettings) -> list[str]:
    return [c.code for c in CATALOGUE if c.code in settings.enabled]


def prepare_statements(dialect: str) -> list[tuple[str, str, bool]]:
    return [(name, _transpile(sql, dialect), materialize) for name, sql, materialize in PREPARE]


def compile_check(code: str, settings: CheckSettings, dialect: str) -> str:
    return _transpile(check_sql(code, settings), dialect)


def compile_all(settings: CheckSettings, dialect: str) -> str:
    """All enabled checks as one UNION ALL query, deterministically ordered."""
    parts = [check_sql(code, settings) for code in enabled_codes(settings)]
    return _transpile(" UNION ALL ".join(parts) + " " + ORDER, dialect)
