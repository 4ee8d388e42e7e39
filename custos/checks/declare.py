"""How a check of the catalogue (custos.checks.catalogue) is declared: ``Check``, its single-row
``Rule``s, and the SQL helpers and named expressions the declarations share.

The engines' compiler (custos.checks.engine.compiler) substitutes custos_native functions for some of
these expressions by their exact text (``repeated``, ``street``, the named regular expressions…).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from string import Template
from typing import Any

from custos.checks.engine.prepare import RID_TYPES
from custos.domain.addresses import STREET_ENDS, STREET_EXCLUDED
from custos.domain.ids import RUNS
from custos.domain.names import HAN
from custos.domain.normalize import CHINESE_NUMERALS

ALL = ("applicant", "insured", "beneficiary")


@dataclass(frozen=True)
class Check:
    code: str
    category: str  # missing | false | suspicious
    severity: str  # high | medium | low
    roles: tuple[str, ...]  # applicant/insured/beneficiary, or ("policy",)
    fields: tuple[str, ...]
    message_zh: str
    message_en: str
    basis: str
    sql: str | tuple[Rule, ...]  # a SELECT, or single-row rules (see Rule)
    params: dict[str, Any] = field(default_factory=dict)
    cross_record: bool = False
    detail: bool = False  # the SELECT also returns ``detail`` (why, e.g. ID09's ranking of variants)

    @property
    def rel_where(self) -> str:
        """RL checks: the condition over ``rel`` alone (see ``rel_check``), else ''."""
        return getattr(self.sql, "where", "")

    def rel_condition(self, params: dict[str, Any]) -> str:
        """``rel_where`` with the parameters filled in ('' for other checks)."""
        return self._fill(self.rel_where, params) if self.rel_where else ""

    def _fill(self, text: str, params: dict[str, Any]) -> str:
        values = {k: _sql_value(v) for k, v in {**self.params, **params}.items()}
        return Template(text).safe_substitute(values)

    @property
    def single_row(self) -> bool:
        return not isinstance(self.sql, str)

    def rules(self, params: dict[str, Any]) -> list[Rule]:
        """The single-row rules with parameters filled in (empty for a query check)."""
        if isinstance(self.sql, str):
            return []
        return [
            Rule(
                self._fill(r.where, params),
                r.field,
                r.roles,
                self._fill(r.value, params),
                self._fill(r.proposed, params),
            )
            for r in self.sql
        ]

    def compiled(self, params: dict[str, Any]) -> str:
        """The check as one SELECT (policy_no, role, seq, field, value, proposed)."""
        if isinstance(self.sql, str):
            return self._fill(self.sql, params)
        return " UNION ALL ".join(r.select() for r in self.rules(params))


def _sql_value(v: Any) -> str:
    if isinstance(v, date):
        return f"DATE '{v.isoformat()}'"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_sql_value(x) for x in v) + ")"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(v)


def _roles(roles: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")"


@dataclass(frozen=True)
class Rule:
    """A single-row rule: parties of ``roles`` (None: every party) where ``where`` holds give a
    finding on ``field`` with ``value`` and ``proposed``. The compiler evaluates the rules of every
    single-row check in one scan of ``pt``; ``Check.compiled`` gives the same rule as a SELECT."""

    where: str
    field: str
    roles: tuple[str, ...] | None
    value: str
    proposed: str = "NULL"

    def condition(self) -> str:
        return f"{_roles(self.roles)} AND ({self.where})" if self.roles else f"({self.where})"

    def select(self) -> str:
        return (
            f"SELECT policy_no, role, seq, '{self.field}' AS field, {self.value} AS value, "
            f"{self.proposed} AS proposed FROM pt WHERE {self.condition()}"
        )


def row(
    where: str,
    fld: str,
    roles: tuple[str, ...] | None = ALL,
    value: str | None = None,
    proposed: str = "NULL",
) -> tuple[Rule, ...]:
    """A single-row check: parties of ``roles`` where ``where`` holds."""
    return (Rule(where, fld, roles, value or fld, proposed),)


def rows(*parts: tuple[Rule, ...]) -> tuple[Rule, ...]:
    return tuple(r for p in parts for r in p)


def family_shared(key: str, family: str, roles: tuple[str, ...], fld: str) -> str:
    """PH06/AD05/EM02: a value shared by ``${min_applicants}`` or more applicants of different families.

    Family: the same ``family`` key (surname + address, or surname when the shared value is the
    address), or linked as applicant/insured on one policy (``plink``; one hop of label propagation).

    Speed: values held by fewer rows than the threshold are dropped by a plain count before the
    distinct count.
    """
    return f"""
    WITH a AS (
      SELECT {key} AS k, pk, {family} AS fam FROM pt
      WHERE {_roles(roles)} AND {key} IS NOT NULL AND pk IS NOT NULL
        AND {key} NOT IN (SELECT value FROM ref_placeholders)  -- a placeholder is not a shared value
    ),
    g0 AS (SELECT k FROM a GROUP BY k HAVING count(*) >= ${{min_applicants}}),
    a1 AS (SELECT a.* FROM a JOIN g0 ON g0.k = a.k),
    g AS (SELECT k FROM a1 GROUP BY k HAVING count(DISTINCT pk) >= ${{min_applicants}}),
    m AS (SELECT DISTINCT a1.k, a1.pk, coalesce(a1.fam, a1.pk) AS fam FROM a1 JOIN g ON g.k = a1.k),
    lab AS (
      SELECT m.k, m.pk, least(min(m.fam), coalesce(min(n.fam), min(m.fam))) AS label
      FROM m LEFT JOIN plink l ON l.x = m.pk LEFT JOIN m n ON n.k = m.k AND n.pk = l.y
      GROUP BY m.k, m.pk
    ),
    bad AS (SELECT k FROM lab GROUP BY k HAVING count(DISTINCT label) >= ${{min_applicants}})
    SELECT pt.policy_no, pt.role, pt.seq, '{fld}' AS field, pt.{fld} AS value, NULL AS proposed
    FROM pt JOIN bad ON bad.k = pt.{key}
    WHERE {_roles(roles)} AND pt.pk IS NOT NULL
    """


RID = f"id_type IN {RID_TYPES}"
VALID_ID = "coalesce(id18, false) AND id_check = substr(id_n, 18, 1) AND coalesce(id_date_real, false)"
# The rules' regular expressions, named once: on DuckDB the compiler substitutes custos_native
# functions for exactly these (custos.checks.engine.compiler.native_sql).
NAME_FORM_RE = f"^([{HAN}]+(·[{HAN}]+)*|[A-Za-z]+([ ·][A-Za-z]+)*)$"
HAN_NAME_RE = f"^[{HAN}]+(·[{HAN}]+)*$"
LANDLINE_RE = "^0([12][0-9]{9}|[3-9][0-9]{9,10})$"
POSTCODE_RE = "^[0-9]{6}$"
EMAIL_RE = "^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}$"
HOUSE_NUMBER_RE = f"[0-9{CHINESE_NUMERALS}]"  # a house number: an Arabic or a Chinese numeral


def _run_windows(col: str, windows: int) -> str:
    """One of the ``windows`` 8-digit windows of the integer ``col`` is one of RUNS: an ascending run
    is 1234567 + 11111111·j (j = 0, 1, 2), a descending one 9876544 + 11111111·j (j = 6, 7, 8) — two
    remainders and a range instead of an IN list per window (DuckDB plans each IN list as a join)."""
    assert {int(r) for r in RUNS} == {1234567 + 11111111 * j for j in (0, 1, 2)} | {
        9876544 + 11111111 * j for j in (6, 7, 8)
    }
    tests = []
    for k in range(windows):
        w = f"({col} // {10**k} % 100000000)"
        tests.append(f"({w} % 11111111 = 1234567 AND {w} < 30000000)")
        tests.append(f"({w} % 11111111 = 9876544 AND {w} >= 70000000)")
    return "(" + " OR ".join(tests) + ")"


_RUN_WINDOWS = _run_windows("id17", 10)


def may_run(col: str) -> str:
    """A cheap necessary condition for a run: every ascending run contains 234567, every descending
    one 765432 (two substring searches before the exact test)."""
    assert all("234567" in r or "765432" in r for r in RUNS)
    return f"(contains({col}, '234567') OR contains({col}, '765432'))"


def repeated(col: str) -> str:
    """``col`` is one character repeated (at least twice); the cheap test of the second character first."""
    return (
        f"(substr({col}, 2, 1) = substr({col}, 1, 1) AND length(replace({col}, substr({col}, 1, 1), '')) = 0)"
    )


# AD04's blocking key: the street (2–8 characters that are not a province/city/district/county/town/
# township, then 路/街/道/巷/弄). DuckDB runs it as custos_street (custos.checks.native), which the
# compiler substitutes for exactly this expression.
STREET_RE = f"([^{STREET_EXCLUDED}]{{2,8}}({'|'.join(STREET_ENDS)}))"


def street(col: str) -> str:
    return f"regexp_extract({col}, '{STREET_RE}', 1)"


STREET_A = street("a")
# AD04's numbered parts: every run of Arabic or Chinese numerals, in order, blanks between — the house
# number, building, unit, floor and room. Two addresses on one road whose numbers differ (青年路965号…
# 26栋1单元2504室 and 青年路487号…27栋2单元602室) are two addresses, however many characters they share.
NUMBERS_RE = f"[^0-9{CHINESE_NUMERALS}]+"


def numbers(col: str) -> str:
    return f"trim(regexp_replace({col}, '{NUMBERS_RE}', ' ', 'g'))"


def numbers_agree(a: str, b: str) -> str:
    """The numbered parts of the address columns ``a`` and ``b`` agree as far as both go: one's are the
    other's followed by more (an outlet's 16号 and a customer's 16号1室), none differs."""
    na, nb = numbers(a), numbers(b)
    sa, sb = f"({na} || ' ')", f"({nb} || ' ')"  # '16 ' is a prefix of '16 1 ', not of '168 '
    return (
        f"({na} = '' OR {nb} = '' OR substr({sa}, 1, length({sb})) = {sb}"
        f" OR substr({sb}, 1, length({sa})) = {sa})"
    )


# The party is not a member of staff (by ID number). DuckDB runs it as an anti-join without its
# correlated-subquery machinery (custos.checks.engine.compiler.native_sql); Spark plans NOT EXISTS as
# a hash anti-join, and NOT IN as a null-aware one that stalled the 1 M-policy book (2026-11-26).
NOT_STAFF = "NOT EXISTS (SELECT 1 FROM stf s WHERE s.id_n = pt.id_n)"
APP = ("applicant",)
INS_BEN = ("insured", "beneficiary")
BIRTH = "coalesce(birth_date, id_birth)"
SEX = "coalesce(gender, id_gender)"

# The other party a relation refers to (the applicant for an insured, the first insured for a
# beneficiary): the prepared table ``rel`` (custos.checks.engine.prepare), joined once for RL01–RL04.
_REL = """
  WITH o AS (SELECT * FROM rel)
"""


class RelSQL(str):
    """An RL check's SQL that also knows its condition over ``rel``: the engines keep only the ``rel``
    rows where the condition of an enabled RL check holds (1.6 M relation rows at 1 M policies were
    written for a few hundred findings)."""

    where: str


def rel_check(where: str) -> RelSQL:
    """An RL check: the relation rows of ``rel`` where ``where`` holds."""
    sql = RelSQL(
        _REL
        + f"""
          SELECT policy_no, role, seq, 'relation' AS field, relation AS value, NULL AS proposed FROM o
          WHERE {where}
          """
    )
    sql.where = where
    return sql


OLDER = "('father', 'mother')"
YOUNGER = "('son', 'daughter')"
GRAND_OLDER = "('grandfather', 'grandmother')"
GRAND_YOUNGER = "('grandson', 'granddaughter')"
MALE_REL = "('father', 'son', 'grandfather', 'grandson', 'elder_brother', 'younger_brother', 'father_in_law', 'son_in_law')"
FEMALE_REL = "('mother', 'daughter', 'grandmother', 'granddaughter', 'elder_sister', 'younger_sister', 'mother_in_law', 'daughter_in_law')"
