"""Compile the catalogue into engine SQL: DuckDB as written, Spark SQL through sqlglot.

The engines (``prepare_statements(dialect, settings)`` + ``compile_parts``/``compile_all``): every
single-row check (declared as ``Rule``s) is one bit of ``rule_mask``, evaluated in the same pass that
prepares the parties (``ptm``); the single-row findings are the parties with a non-zero mask joined
with the small table of rule bits, one finding per (party, rule). Query checks (joins and
aggregations across records) are one SELECT each. The screening evaluator uses the older form
(``prepare_statements(dialect)`` + ``single_row_sql`` over a ``pt`` with every prepared column), and
``compile_check`` gives one check alone over that form. All come from the same declarations.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from functools import cache

import sqlglot
from sqlglot import exp

from custos.checks.catalogue import (
    BY_CODE,
    CATALOGUE,
    EMAIL_RE,
    HAN_NAME_RE,
    HOUSE_NUMBER_RE,
    LANDLINE_RE,
    NAME_FORM_RE,
    NOT_STAFF,
    POSTCODE_RE,
    CheckSettings,
    repeated,
    street,
)
from custos.checks.engine.prepare import PREPARE, _lit, prepare_fused
from custos.domain.normalize import CHINESE_NUMERALS

OUTPUT_COLUMNS = ("check", "policy_no", "role", "seq", "field", "value", "proposed", "detail")
ORDER = 'ORDER BY "check", policy_no, role, seq, field, value'
_SPARK_NAMES = {"STRLEN": "OCTET_LENGTH"}  # DuckDB functions sqlglot leaves as they are


def _spark_fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in _SPARK_NAMES:
        return exp.Anonymous(this=_SPARK_NAMES[str(node.this).upper()], expressions=node.expressions)
    return node


@cache
def _transpile(sql: str, dialect: str) -> str:
    if dialect == "duckdb":
        return sql
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_spark_fix)
    return tree.sql(dialect=dialect)


def _wrap(code: str, body: str) -> str:
    detail = "detail" if BY_CODE[code].detail else "NULL"
    return (
        f"SELECT '{code}' AS \"check\", CAST(policy_no AS VARCHAR) AS policy_no, CAST(role AS VARCHAR) AS role, "
        f"CAST(seq AS BIGINT) AS seq, CAST(field AS VARCHAR) AS field, CAST(value AS VARCHAR) AS value, "
        f"CAST(proposed AS VARCHAR) AS proposed, CAST({detail} AS VARCHAR) AS detail FROM ({body}) q_{code}"
    )


def check_sql(code: str, settings: CheckSettings) -> str:
    """One check's findings with the output columns, in DuckDB SQL."""
    return _wrap(code, BY_CODE[code].compiled(settings.params_for(code)))


def enabled_codes(settings: CheckSettings) -> list[str]:
    return [c.code for c in CATALOGUE if c.code in settings.enabled]


def prepare_statements(
    dialect: str, settings: CheckSettings | None = None, *, role_scoped: bool = True, native: bool = False
) -> list[tuple[str, str, bool]]:
    """The prepared tables. With ``settings`` (the engines): ``ptm`` is the narrow party table with
    the single-row rules of the enabled checks already evaluated into ``rule_mask`` (and, with
    ``role_scoped``, contact values only where a check reads them); without (the screening
    evaluator): ``ptm``/``pt`` hold every prepared column and the rules run over them. ``native``
    (DuckDB with custos.checks.native loaded): the per-value work by the extension's functions."""
    if native and dialect != "duckdb":
        raise ValueError("the custos_native functions exist on DuckDB only")
    if settings is None:
        stmts = PREPARE
    else:
        rules = single_rules(settings)
        rel = [
            f"({BY_CODE[c].rel_condition(settings.params_for(c))})"
            for c in enabled_codes(settings)
            if BY_CODE[c].rel_where
        ]
        mask = (_native_mask(rules, settings) if native else _mask(rules)) if rules else "CAST(0 AS BIGINT)"
        stmts = prepare_fused(mask, role_scoped, " OR ".join(rel) or "false", native)
    if native:
        stmts = [(name, native_sql(sql), materialize) for name, sql, materialize in stmts]
    return [(name, _transpile(sql, dialect), materialize) for name, sql, materialize in stmts]


def _rules_of(codes: list[str], settings: CheckSettings) -> list[tuple[str, object]]:
    """(code, Rule) of every single-row rule of ``codes``; rule i is bit i of ``rule_mask``."""
    rules = [(code, r) for code in codes for r in BY_CODE[code].rules(settings.params_for(code))]
    if len(rules) > 62:
        raise ValueError("more than 62 single-row rules: split the mask")
    return rules


def single_rules(settings: CheckSettings) -> list[tuple[str, object]]:
    """The single-row rules of the enabled checks, in ``rule_mask`` bit order."""
    return _rules_of([c for c in enabled_codes(settings) if BY_CODE[c].single_row], settings)


def _bit_terms(bits) -> list[str]:
    """One SQL term per (bit, Rule): the bit where the rule's condition holds, else 0."""
    return [
        f"CASE WHEN {r.condition()} THEN CAST({1 << i} AS BIGINT) ELSE CAST(0 AS BIGINT) END" for i, r in bits
    ]


def _mask(rules) -> str:
    return " + ".join(_bit_terms((i, r) for i, (_, r) in enumerate(rules)))


# The single-row rules custos_rules (custos_native.c) evaluates in C, each pinned to a fingerprint of
# the SQL it was written against (``rule_fingerprint`` of the catalogue's rule before its parameters
# are filled in): a rule whose SQL changes runs as SQL until its twin is checked against it again and
# re-pinned (tests/test_native.py fails until then). The twin takes the parameters its pinned SQL
# reads (``${name}``), each of which must be one custos_rules knows (``TWIN_PARAMS``).
RULE_TWINS: dict[tuple[str, str], str] = {
    ("ID01", "id_type"): "2b38551566b398ec",
    ("ID01", "id_no"): "21dd673f3b7f7644",
    ("ID02", "id_no"): "0bf78889a0536666",
    ("ID03", "id_no"): "8ecc103e59258db5",
    ("ID04", "id_no"): "6cbee0859605edf0",
    ("ID05", "id_no"): "3fbadbe58eb0fb2c",
    ("ID06", "birth_date"): "88d1ef86f04de99d",
    ("ID07", "gender"): "9580e3e4b387d1f2",
    ("ID08", "id_no"): "f52ffaeb1851c9ed",
    ("ID10", "id_no"): "f52d5de3e9932424",
    ("ID11", "id_no"): "38d444f29417226d",
    ("ID12", "id_valid_until"): "34766bc2e69f371b",
    ("NM01", "name"): "12c8fe3d9e93db11",
    ("NM02", "name"): "42b02be113b15ad6",
    ("NM03", "name"): "f32c98872d9fcab4",
    ("NM04", "name"): "c4683872fa583eca",
    ("BD01", "birth_date"): "df29ce606d92659f",
    ("BD01", "gender"): "1bdc122a51b4f17b",
    ("BD02", "birth_date"): "5f9296a72aa990e4",
    ("BD03", "birth_date"): "fefa272dabac55e2",
    ("PH01", "mobile"): "f0ee5aa32089f3ec",
    ("PH02", "mobile"): "a7407ad1175b4fa5",
    ("PH03", "mobile"): "7772628873de1f92",
    ("PH04", "phone"): "3309c4c2a909b855",
    ("AD01", "address"): "68d3e7be02e4cddd",
    ("AD02", "address"): "5ad8fac053ad9c79",
    ("AD03", "address"): "3d01710178409c10",
    ("AD06", "postcode"): "7ffde8289c09da67",
    ("EM01", "email"): "89f234ded8d1af50",
}
TWIN_PARAMS = frozenset({"as_of", "max_len", "min_age", "min_len", "tail_zeros"})  # parse_rule_spec's
# custos_rules' arguments after the rule list, in its order (``A_ROLE`` … in custos_native.c)
RULE_ARGS = (
    "role",
    "id_type",
    "gender",
    "name_n",
    "name_d",
    "id_n",
    "mobile_n",
    "phone_n",
    "addr_n",
    "postcode_n",
    "email_n",
    "prov",
    "birth_date",
    "id_valid_until",
    "applied_on",
    "id17",
    "seg_valid",
    "id18",
    "id15",
    "gb_known",
    "area_known",
    "name_ph",
    "id_ph",
    "mobile_ph",
    "addr_ph",
    "postcode_in_prov",
)
_RULE_ARG_TYPES = ("VARCHAR",) * 12 + ("DATE",) * 3 + ("BIGINT", "INTEGER") + ("BOOLEAN",) * 9
assert len(_RULE_ARG_TYPES) == len(RULE_ARGS)


def _template(code: str, field: str):
    """The catalogue's rule of ``code`` on ``field``, its parameters not filled in."""
    (rule,) = [r for r in BY_CODE[code].sql if r.field == field]
    return rule


def rule_fingerprint(code: str, field: str) -> str:
    """The fingerprint of a catalogue rule's SQL (its condition before parameters are filled in)."""
    return hashlib.sha256(_template(code, field).condition().encode()).hexdigest()[:16]


def rule_params(code: str, field: str) -> tuple[str, ...]:
    """The parameters (``${name}``) a catalogue rule's SQL reads."""
    return tuple(sorted(set(re.findall(r"\$\{(\w+)\}", _template(code, field).where))))


def _twin_params(code: str, names: tuple[str, ...], settings: CheckSettings) -> dict[str, int] | None:
    """The twin's parameters as integers (a date as days since 1970-01-01), None when one is not of
    the form the C code takes (the rule then runs as SQL)."""
    out = {}
    for name in names:
        if name not in TWIN_PARAMS:
            return None
        v = settings.params_for(code)[name]
        if isinstance(v, date):
            v = (v - date(1970, 1, 1)).days
        if type(v) is not int or (name == "tail_zeros" and v < 1) or abs(v) >= 2**31:
            return None
        out[name] = v
    return out


def twinned(code: str, field: str, settings: CheckSettings) -> dict[str, int] | None:
    """The parameters custos_rules evaluates the rule with, or None when the rule runs as SQL."""
    if RULE_TWINS.get((code, field)) != rule_fingerprint(code, field):
        return None
    return _twin_params(code, rule_params(code, field), settings)


def _native_mask(rules, settings: CheckSettings) -> str:
    """``_mask`` with every twinned rule's bit from one custos_rules call, the others as SQL."""
    spec, params, rest = [], {}, []
    for i, (code, r) in enumerate(rules):
        p = twinned(code, r.field, settings)
        if p is None or any(params.get(k, v) != v for k, v in p.items()):  # one value per parameter name
            rest.append((i, r))
        else:
            spec.append(f"{code}.{r.field}={i}")
            params.update(p)
    if not spec:
        return _mask(rules)
    spec += [f"{k}={v}" for k, v in sorted(params.items())]
    args = ", ".join(f"CAST({a} AS {t})" for a, t in zip(RULE_ARGS, _RULE_ARG_TYPES, strict=True))
    return " + ".join([f"custos_rules({_lit(' '.join(spec))}, {args})", *_bit_terms(rest)])


def _rows_from_mask(rules, source: str) -> str:
    keys = ", ".join(
        f"({i}, CAST({1 << i} AS BIGINT), '{code}', '{r.field}')" for i, (code, r) in enumerate(rules)
    )
    value = " ".join(f"WHEN {i} THEN CAST({r.value} AS VARCHAR)" for i, (_, r) in enumerate(rules))
    proposed = " ".join(f"WHEN {i} THEN CAST({r.proposed} AS VARCHAR)" for i, (_, r) in enumerate(rules))
    return (
        f'SELECT k.code AS "check", CAST(f.policy_no AS VARCHAR) AS policy_no, CAST(f.role AS VARCHAR) AS role, '
        f"CAST(f.seq AS BIGINT) AS seq, CAST(k.fld AS VARCHAR) AS field, CASE k.i {value} END AS value, "
        f"CASE k.i {proposed} END AS proposed, CAST(NULL AS VARCHAR) AS detail "
        f"FROM {source} f "
        f"JOIN (SELECT * FROM (VALUES {keys}) AS t(i, bit, code, fld)) k ON (f.rule_mask & k.bit) <> 0"
    )


def compile_check(code: str, settings: CheckSettings, dialect: str) -> str:
    return _transpile(check_sql(code, settings), dialect)


def single_row_sql(codes: list[str], settings: CheckSettings, source: str = "pt") -> str | None:
    """Every single-row rule of ``codes`` in one scan of ``source`` with every column of ``pt`` (the
    screening evaluator's form; the engines read ``rule_mask`` from ``ptm``), or None."""
    rules = _rules_of(codes, settings)
    if not rules:
        return None
    return _rows_from_mask(
        rules, f"(SELECT * FROM (SELECT *, {_mask(rules)} AS rule_mask FROM {source}) m WHERE rule_mask <> 0)"
    )


# Expressions of the catalogue that DuckDB runs as custos_native functions when they are loaded;
# each function computes exactly what the expression computes (tests/test_native.py). Only a plain
# column is substituted (``[\w.]+``); any other operand keeps its SQL.
_COL = r"([\w.]+)"
_OPERAND = "custos_operand"
_REGEX_FUNCTIONS = {
    NAME_FORM_RE: "custos_name_form({})",
    HAN_NAME_RE: "custos_han_name({})",
    EMAIL_RE: "custos_email_form({})",
    LANDLINE_RE: "custos_landline_form({})",
    POSTCODE_RE: "custos_six_digits({})",
    HOUSE_NUMBER_RE: "custos_contains_any({}, '" + "|".join("0123456789" + CHINESE_NUMERALS) + "')",
}


def _rewrite(expression, native: str):
    """(pattern, replacement) turning ``expression(column)`` — the catalogue's own helper, so the
    pattern is its SQL text — into ``native`` with the column in ``{}``; the column's later
    occurrences in the text must be the same column."""
    parts = [re.escape(p) for p in expression(_OPERAND).split(_OPERAND)]
    return re.compile(parts[0] + _COL + r"\1".join(parts[1:])), lambda m: native.format(m.group(1))


def _any_of(function: str, native: str):
    """(function(col, 'w1') OR function(col, 'w2') …) -> native(col, 'w1|w2|…')."""
    term = function + r"\(" + _COL + r", '([^'|]+)'\)"
    chain = re.compile(r"\(" + term + r"(?:\s+OR\s+" + function + r"\(\1, '[^'|]+'\))*\)")

    def replace(m: re.Match) -> str:
        words = re.findall(function + r"\(" + re.escape(m.group(1)) + r", '([^'|]+)'\)", m.group(0))
        return f"{native}({m.group(1)}, '{'|'.join(words)}')"

    return chain, replace


_NATIVE_REWRITES = (
    # not DuckDB's C functions but its plan: the same rows as an anti-join without the correlated
    # subquery (AD04: 0.12 of 0.93 CPU s at 1 M policies, 2026-11-26); NULL ID numbers are kept
    (
        re.compile(re.escape(NOT_STAFF)),
        "(pt.id_n IS NULL OR pt.id_n NOT IN (SELECT s.id_n FROM stf s WHERE s.id_n IS NOT NULL))",
    ),
    _rewrite(street, "custos_street({})"),
    _rewrite(repeated, "custos_repeated({})"),
    _rewrite(lambda col: f"regexp_replace({col}, '[^0-9]', '', 'g')", "custos_digits_only({})"),
    _any_of("contains", "custos_contains_any"),
    _any_of("ends_with", "custos_ends_any"),
    *(
        _rewrite(lambda col, regex=regex: f"regexp_matches({col}, {_lit(regex)})", function)
        for regex, function in _REGEX_FUNCTIONS.items()
    ),
)


def native_sql(sql: str) -> str:
    for pattern, replacement in _NATIVE_REWRITES:
        sql = pattern.sub(replacement, sql)
    return sql


def compile_parts(settings: CheckSettings, *, native: bool = False) -> list[tuple[str, str]]:
    """The enabled checks as (label, DuckDB SELECT) parts with the output columns, over the tables of
    ``prepare_statements(dialect, settings)``: the single-row findings from ``rule_mask`` (label
    ``rows``), then one part per query check. Their UNION ALL, ordered by ``ORDER``, is
    ``compile_all``; the DuckDB engine runs the parts one by one (one big query makes DuckDB run
    every pipeline at once: twice the CPU time and memory, 2026-11-25). ``native``: with the
    custos_native functions in place of the expressions they replace (DuckDB only)."""
    parts = []
    rules = single_rules(settings)
    if rules:
        parts.append(("rows", _rows_from_mask(rules, "(SELECT * FROM pt WHERE rule_mask <> 0)")))
    codes = enabled_codes(settings)
    parts += [(code, check_sql(code, settings)) for code in codes if not BY_CODE[code].single_row]
    return [(label, native_sql(sql)) for label, sql in parts] if native else parts


def compile_all(settings: CheckSettings, dialect: str) -> str:
    """All enabled checks as one query over ``prepare_statements(dialect, settings)``,
    deterministically ordered."""
    parts = [sql for _, sql in compile_parts(settings)]
    return _transpile(" UNION ALL ".join(parts) + " " + ORDER, dialect)
