"""The check catalogue (shared/rules.md) as data: one declaration per check, run by every engine.

A check's ``sql`` is a SELECT in DuckDB SQL over the prepared views of
``custos.checks.engine.prepare`` (``pt`` = one row per party with normalised columns, ``stf``,
``outlet_phone``, ``outlet_addr``, ``plink``, the snapshot tables and the ``ref_*`` tables). It
returns ``policy_no, role, seq, field, value, proposed``. The engines transpile it with sqlglot;
nothing runs row by row in Python. ``${param}`` placeholders are filled from CheckSettings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from string import Template
from typing import Any

from custos.checks.engine.prepare import RID_TYPES, age, contains_any, ends_any, ymd
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
HAN = "㐀-䶿一-鿿豈-﫿"
# The rules' regular expressions, named once: on DuckDB the compiler substitutes custos_native
# functions for exactly these (custos.checks.engine.compiler.native_sql).
NAME_FORM_RE = f"^([{HAN}]+(·[{HAN}]+)*|[A-Za-z]+([ ·][A-Za-z]+)*)$"
HAN_NAME_RE = f"^[{HAN}]+(·[{HAN}]+)*$"
LANDLINE_RE = "^0([12][0-9]{9}|[3-9][0-9]{9,10})$"
POSTCODE_RE = "^[0-9]{6}$"
EMAIL_RE = "^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}$"
HOUSE_NUMBER_RE = f"[0-9{CHINESE_NUMERALS}]"  # a house number: an Arabic or a Chinese numeral
RUNS = ("01234567", "12345678", "23456789", "98765432", "87654321", "76543210")


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


RURAL = ("村", "乡", "镇", "组", "屯", "嘎查")
# AD04's blocking key: the street (2–8 characters that are not a province/city/district/county/town/
# township, then 路/街/道/巷/弄). DuckDB runs it as custos_street (custos.checks.native), which the
# compiler substitutes for exactly this expression.
STREET_RE = "([^省市区县镇乡]{2,8}(路|街|道|巷|弄))"


def street(col: str) -> str:
    return f"regexp_extract({col}, '{STREET_RE}', 1)"


STREET_A = street("a")
# AD04's numbered parts: every run of Arabic or Chinese numerals, in order, blanks between — the house
# number, building, unit, floor and room. Two addresses on one road whose numbers differ (青年路965号…
# 26栋1单元2504室 and 青年路487号…27栋2单元602室) are two addresses, however many characters they share.
NUMBERS_RE = f"[^0-9{CHINESE_NUMERALS}]+"


def numbers(col: str) -> str:
    return f"regexp_replace({col}, '{NUMBERS_RE}', ' ', 'g')"


# The party is not a member of staff (by ID number). DuckDB runs it as an anti-join without its
# correlated-subquery machinery (custos.checks.engine.compiler.native_sql); Spark plans NOT EXISTS as
# a hash anti-join, and NOT IN as a null-aware one that stalled the 1 M-policy book (2026-11-26).
NOT_STAFF = "NOT EXISTS (SELECT 1 FROM stf s WHERE s.id_n = pt.id_n)"
VAGUE_ENDS = ("附近", "对面", "旁边", "路", "街", "道")
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

CATALOGUE: list[Check] = [
    # --- ID ------------------------------------------------------------------------------------
    Check(
        "ID01",
        "missing",
        "high",
        ALL,
        ("id_type", "id_no"),
        "证件类型或证件号码为空",
        "ID type or ID number is empty",
        "M82",
        rows(row("id_type IS NULL", "id_type"), row("id_n IS NULL", "id_no")),
    ),
    Check(
        "ID02",
        "false",
        "high",
        ALL,
        ("id_no",),
        "居民身份证号码不是18位（17位数字加校验位）",
        "Resident ID number is not 18 characters (17 digits and a check digit)",
        "GB11643",
        row(
            f"{RID} AND id_n IS NOT NULL AND NOT coalesce(id18, false) AND NOT coalesce(id15, false)", "id_no"
        ),
    ),
    Check(
        "ID03",
        "false",
        "high",
        ALL,
        ("id_no",),
        "身份证号码校验位错误",
        "Check digit of the ID number is wrong",
        "GB11643",
        row("id18 AND id_check <> substr(id_n, 18, 1)", "id_no"),
    ),
    Check(
        "ID04",
        "false",
        "high",
        ALL,
        ("id_no",),
        "身份证号码中的出生日期不是真实日期、晚于今天或早于1900年",
        "The birth date in the ID number is not a real date, is in the future or before 1900",
        "GB11643",
        row("(id18 OR id15) AND (NOT id_date_real OR id_birth > ${as_of} OR id_y < 1900)", "id_no"),
        {"as_of": date.today()},
    ),
    Check(
        "ID05",
        "false",
        "high",
        ALL,
        ("id_no",),
        "身份证号码的地址码在GB2260中从未存在",
        "The ID number's address code never existed in GB2260",
        "GB2260",
        row("(id18 OR id15) AND substr(id_n, 1, 1) <> '9' AND NOT gb_known", "id_no"),
    ),
    Check(
        "ID06",
        "false",
        "high",
        ALL,
        ("birth_date",),
        "出生日期与身份证号码中的出生日期不一致",
        "Birth date differs from the date in the ID number",
        "M82, GB11643",
        row(
            "(id18 OR id15) AND id_date_real AND birth_date IS NOT NULL AND birth_date <> id_birth",
            "birth_date",
            value="CAST(birth_date AS VARCHAR)",
            proposed="CAST(id_birth AS VARCHAR)",
        ),
    ),
    Check(
        "ID07",
        "false",
        "high",
        ALL,
        ("gender",),
        "性别与身份证号码第17位不一致（奇数为男）",
        "Gender differs from the ID number's 17th digit (odd = male)",
        "M82, GB11643",
        row("(id18 OR id15) AND gender IS NOT NULL AND gender <> id_gender", "gender", proposed="id_gender"),
    ),
    Check(
        "ID08",
        "false",
        "high",
        ALL,
        ("id_no",),
        "占位身份证号码（重复数字、连续数字、顺序码为000或公开示例号码）",
        "Placeholder ID number (one digit repeated, a run of digits, sequence 000, or a published example)",
        "M82",
        row(
            # 18 digits: on the 17-digit integer (one digit repeated = a multiple of 11…1, a run = one
            # of the 10 windows of 8 digits, sequence 000 = divisible by 1000); 15 digits: on the text
            f"(id18 AND (id17 % {int('1' * 17)} = 0 OR id17 % 1000 = 0 OR id_ph"
            f" OR ({may_run('id_n')} AND {_RUN_WINDOWS})))"
            f" OR (id15 AND ({repeated('substr(id_n, 1, 17)')}"
            f" OR ({may_run('id_n')} AND {contains_any('substr(id_n, 1, 17)', RUNS)}) OR id_ph))",
            "id_no",
        ),
    ),
    Check(
        "ID09",
        "false",
        "high",
        ALL,
        ("id_no",),
        "同一身份证号码在不同保单上对应不同的姓名或出生日期",
        "The same ID number carries different names or birth dates across the book",
        "M82",
        """
          WITH c AS (
            SELECT id_n FROM pt WHERE (id18 OR id15) AND name_n IS NOT NULL
            -- more than one distinct name or birth date (NULLs ignored, as count(DISTINCT …) > 1 did)
            GROUP BY id_n HAVING min(name_n) <> max(name_n) OR min(birth_date) <> max(birth_date)
          ),
          r AS (  -- every row of a conflicted number
            SELECT pt.policy_no, pt.role, pt.seq, pt.id_no, pt.id_n, pt.name_n, pt.birth_date, pt.applied_on,
                   CASE WHEN pt.birth_date = pt.id_birth THEN 1 ELSE 0 END AS b_ok,
                   CASE WHEN pt.gender = pt.id_gender THEN 1 WHEN pt.gender IS NULL THEN NULL ELSE 0 END AS s_ok
            FROM pt JOIN c ON c.id_n = pt.id_n WHERE pt.name_n IS NOT NULL
          ),
          v AS (  -- each (name, birth date) variant and the evidence that it is the number's owner
            SELECT id_n, name_n, birth_date, count(*) AS n, max(b_ok) AS b_ok,
                   coalesce(min(s_ok), 0) AS s_ok, min(applied_on) AS first_on
            FROM r GROUP BY id_n, name_n, birth_date
          ),
          e AS (
            SELECT v.*, CASE WHEN v.first_on = min(v.first_on) OVER (PARTITION BY v.id_n) THEN 1 ELSE 0 END
                        AS first_ok, count(*) OVER (PARTITION BY v.id_n) AS k
            FROM v
          ),
          rk AS (  -- rank 1: the likeliest owner; the ID's own birth date first, then its sex, the
                   -- earliest policy, the most rows; variants with the same evidence share a rank
            SELECT e.*, rank() OVER (PARTITION BY e.id_n ORDER BY e.b_ok DESC, e.s_ok DESC, e.first_ok DESC,
                                     e.n DESC) AS rnk
            FROM e
          )
          SELECT r.policy_no, r.role, r.seq, 'id_no' AS field, r.id_no AS value, NULL AS proposed,
                 'rank=' || CAST(rk.rnk AS VARCHAR) || '/' || CAST(rk.k AS VARCHAR)
                 || ' birth=' || CAST(rk.b_ok AS VARCHAR) || ' sex=' || CAST(rk.s_ok AS VARCHAR)
                 || ' earliest=' || CAST(rk.first_ok AS VARCHAR) || ' rows=' || CAST(rk.n AS VARCHAR) AS detail
          FROM r JOIN rk ON rk.id_n = r.id_n AND rk.name_n = r.name_n
                        AND rk.birth_date IS NOT DISTINCT FROM r.birth_date
          """,
        detail=True,
        cross_record=True,
    ),
    Check(
        "ID10",
        "missing",
        "medium",
        ALL,
        ("id_no",),
        "15位旧身份证号码，须升级为18位（已给出建议号码）",
        "Legacy 15-digit ID number: must be upgraded to 18 digits (custos proposes the 18-digit form)",
        "M82, GB11643",
        row("id15", "id_no", proposed="id_upgraded"),
    ),
    Check(
        "ID11",
        "false",
        "medium",
        ALL,
        ("id_type", "id_no"),
        "证件类型与证件号码不符",
        "ID type contradicts the number",
        "M82",
        row(
            f"""id_n IS NOT NULL AND (
               ({RID} AND ((starts_with(id_n, '8') AND substr(id_n, 1, 6) IN ('810000', '820000', '830000'))
                          OR (starts_with(id_n, '9') AND regexp_matches(id_n, '^9[0-9]{{5}}'))))
            OR (id_type = 'hk_macau_permit' AND NOT regexp_matches(id_n, '^[HM][0-9]{{8,10}}$'))
            OR (id_type = 'taiwan_permit' AND NOT regexp_matches(id_n, '^[0-9]{{8}}$'))
            OR (id_type = 'hmt_residence_permit' AND NOT regexp_matches(id_n, '^8[123]0000[0-9]{{11}}[0-9X]$'))
            OR (id_type = 'foreign_permanent_id'
                AND NOT regexp_matches(id_n, '^(9[0-9]{{16}}[0-9X]|[A-Z]{{3}}[0-9]{{12}})$'))
            OR (id_type = 'passport' AND NOT regexp_matches(id_n, '^[A-Z0-9]{{5,17}}$'))
            OR (id_type = 'birth_certificate' AND NOT regexp_matches(id_n, '^[A-Z][0-9]{{9}}$')))""",
            "id_no",
        ),
    ),
    Check(
        "ID12",
        "false",
        "medium",
        ALL,
        ("id_valid_until",),
        "证件在投保日期之前已过期",
        "The document had expired before the application date",
        "M82",
        row(
            "id_valid_until IS NOT NULL AND applied_on IS NOT NULL AND id_valid_until < applied_on",
            "id_valid_until",
            value="CAST(id_valid_until AS VARCHAR)",
        ),
    ),
    # --- NM ------------------------------------------------------------------------------------
    Check(
        "NM01",
        "missing",
        "high",
        ALL,
        ("name",),
        "姓名为空",
        "Name is empty",
        "M82",
        row("name_n IS NULL", "name"),
    ),
    Check(
        "NM02",
        "false",
        "high",
        ALL,
        ("name",),
        "占位姓名（如“客户”“先生”“测试”“某某”或重复字符）",
        "Placeholder name (客户, 先生, 测试, 某某, a repeated character…)",
        "M82",
        row(
            # one character repeated three or more times: 林林, 丹丹 are real names
            f"name_ph OR ({repeated('name_n')} AND length(name_n) >= 3)"
            " OR (substr(name_n, 1, 1) IN ('x', 'X', '*') AND regexp_matches(name_n, '^[xX*]+$'))"
            f" OR ({ends_any('name_n', ('先生', '女士', '小姐'))} AND length(name_n) = 3"
            f" AND regexp_matches(substr(name_n, 1, 1), '^[{HAN}]$'))",
            "name",
        ),
    ),
    Check(
        "NM03",
        "false",
        "medium",
        ALL,
        ("name",),
        "姓名含有不可能出现的字符（数字、除间隔号·外的标点、中英文混杂）",
        "Name contains characters a name cannot have (digits, punctuation other than ·, mixed scripts)",
        "M82",
        row(f"NOT regexp_matches(name_d, '{NAME_FORM_RE}')", "name"),
    ),
    Check(
        "NM04",
        "suspicious",
        "low",
        ALL,
        ("name",),
        "中文姓名长度不合常理（1个字，或无间隔号超过6个字）",
        "Implausible length for a Chinese name (1 character, or more than 6 without a middle dot)",
        "Practice",
        row(
            "(length(name_n) = 1 OR (length(name_n) > ${max_len} AND NOT contains(name_d, '·')))"
            f" AND regexp_matches(name_d, '{HAN_NAME_RE}')",
            "name",
        ),
        {"max_len": 6},
    ),
    # --- BD ------------------------------------------------------------------------------------
    Check(
        "BD01",
        "missing",
        "high",
        ALL,
        ("birth_date", "gender"),
        "出生日期或性别为空（且无有效身份证可提供）",
        "Birth date or gender is empty (and no valid ID supplies them)",
        "M82",
        rows(
            row(f"birth_date IS NULL AND NOT ({VALID_ID})", "birth_date"),
            row(f"gender IS NULL AND NOT ({VALID_ID})", "gender"),
        ),
    ),
    Check(
        "BD02",
        "false",
        "high",
        ALL,
        ("birth_date",),
        "出生日期晚于投保日期，或投保时年龄超过120岁",
        "Born after the application date, or older than 120 at application",
        "M82",
        row(
            f"birth_date IS NOT NULL AND applied_on IS NOT NULL AND (birth_date > applied_on"
            # whole years never exceed the difference of the years: test that first
            f" OR (year(applied_on) - year(birth_date) > 120 AND {age('birth_date', 'applied_on')} > 120))",
            "birth_date",
            value="CAST(birth_date AS VARCHAR)",
        ),
    ),
    Check(
        "BD03",
        "suspicious",
        "medium",
        APP,
        ("birth_date",),
        "投保人投保时未满18周岁",
        "The applicant was younger than 18 at application",
        "Practice",
        row(
            f"{BIRTH} IS NOT NULL AND applied_on IS NOT NULL AND {BIRTH} <= applied_on"
            # whole years are at least the difference of the years less one: test that first
            f" AND year(applied_on) - year({BIRTH}) <= ${{min_age}} AND {age(BIRTH, 'applied_on')} < ${{min_age}}",
            "birth_date",
            APP,
            value="CAST(birth_date AS VARCHAR)",
        ),
        {"min_age": 18},
    ),
    # --- RL ------------------------------------------------------------------------------------
    Check(
        "RL01",
        "false",
        "high",
        INS_BEN,
        ("relation",),
        "关系与年龄矛盾（如父母比子女年长不足12岁、哥哥姐姐更年轻）",
        "Relation contradicts ages (a parent less than 12 years older than the child, an elder sibling younger…)",
        "Practice",
        rel_check(
            f"""b IS NOT NULL AND ob IS NOT NULL AND (
               (relation IN {OLDER} AND {ymd("b")} + ${{parent_gap}} * 10000 > {ymd("ob")})
            OR (relation IN {YOUNGER} AND {ymd("ob")} + ${{parent_gap}} * 10000 > {ymd("b")})
            OR (relation IN {GRAND_OLDER} AND {ymd("b")} + ${{grandparent_gap}} * 10000 > {ymd("ob")})
            OR (relation IN {GRAND_YOUNGER} AND {ymd("ob")} + ${{grandparent_gap}} * 10000 > {ymd("b")})
            OR (relation IN ('elder_brother', 'elder_sister') AND b > ob)
            OR (relation IN ('younger_brother', 'younger_sister') AND b < ob))"""
        ),
        {"parent_gap": 12, "grandparent_gap": 30},
        cross_record=True,
    ),
    Check(
        "RL02",
        "false",
        "high",
        INS_BEN,
        ("relation",),
        "关系与性别矛盾（如“父亲”为女性、“女儿”为男性）",
        "Relation contradicts gender (a father who is female, a daughter who is male…)",
        "Practice",
        rel_check(f"""(relation IN {MALE_REL} AND sx = 'F') OR (relation IN {FEMALE_REL} AND sx = 'M')"""),
        cross_record=True,
    ),
    Check(
        "RL03",
        "false",
        "high",
        ("insured",),
        ("relation",),
        "关系为“本人”，但姓名、证件号码或出生日期与投保人不同",
        "Relation is 'self' but name, ID or birth date differ from the applicant's",
        "M82",
        rel_check(
            # a value missing on either side is NM01's, ID01's or BD01's finding, not a contradiction
            """role = 'insured' AND relation = 'self' AND (name_n <> o_name OR id_n <> o_id
             OR birth_date <> o_birth_date)"""
        ),
        cross_record=True,
    ),
    Check(
        "RL04",
        "suspicious",
        "medium",
        INS_BEN,
        ("relation",),
        "关系为“配偶”但投保时未达法定婚龄（男22岁、女20岁）",
        "Relation 'spouse' below the legal marriage age (22 men, 20 women) at application",
        "Practice",
        rel_check(
            f"""relation = 'spouse' AND b IS NOT NULL AND applied_on IS NOT NULL AND sx IS NOT NULL
            AND {age("b", "applied_on")} < CASE WHEN sx = 'M' THEN ${{male_age}} ELSE ${{female_age}} END"""
        ),
        {"male_age": 22, "female_age": 20},
        cross_record=True,
    ),
    # --- PH ------------------------------------------------------------------------------------
    Check(
        "PH01",
        "missing",
        "high",
        APP,
        ("mobile",),
        "投保人既无手机号也无固定电话",
        "The applicant has neither a mobile nor a fixed line",
        "M82",
        row("mobile_n IS NULL AND phone_n IS NULL", "mobile", APP),
    ),
    Check(
        "PH02",
        "false",
        "high",
        ALL,
        ("mobile",),
        "手机号不是11位或不在工信部分配的可通话号段（上网卡/物联网号段无效）",
        "Mobile is not 11 digits in a segment MIIT allocated for calls (data-only/IoT segments are invalid)",
        "MIIT",
        row(
            "mobile_n IS NOT NULL AND (seg_valid = 0"
            " OR NOT (length(mobile_n) = 11 AND substr(mobile_n, 1, 1) = '1' AND mobile_digits))",
            "mobile",
            None,
        ),
    ),
    Check(
        "PH03",
        "false",
        "high",
        ALL,
        ("mobile",),
        "占位手机号（如13800138000、重复数字、连续数字、尾号全零）",
        "Placeholder mobile (13800138000, one digit repeated, a run of digits, a zero tail)",
        "Practice",
        row(
            f"mobile_n IS NOT NULL AND (mobile_ph OR {repeated('mobile_n')}"
            f" OR ({may_run('mobile_n')} AND {contains_any('mobile_n', RUNS)})"
            " OR right(mobile_n, ${tail_zeros}) = repeat('0', ${tail_zeros}))",
            "mobile",
        ),
        {"tail_zeros": 7},
    ),
    Check(
        "PH04",
        "false",
        "medium",
        ALL,
        ("phone",),
        "固定电话不是“0+区号+7至8位号码”（区号10和2x须8位）",
        "Fixed line is not 0 + area code + 7–8 digits (area codes 10 and 2x take 8)",
        "MIIT",
        row(
            f"phone_n IS NOT NULL AND NOT (area_known AND regexp_matches(phone_n, '{LANDLINE_RE}'))",
            "phone",
        ),
    ),
    Check(
        "PH05",
        "false",
        "high",
        ("applicant", "insured"),
        ("mobile", "phone"),
        "客户电话是销售人员或其他员工的电话（销售人员电话出单）",
        "The customer's phone is a staff member's (the selling agent's or another employee's)",
        "M82, Practice",
        """
          SELECT DISTINCT p.policy_no, p.role, p.seq, 'mobile' AS field, p.mobile AS value, NULL AS proposed
          FROM pt p JOIN stf s ON s.mobile_n = p.mobile_n
          WHERE p.role IN ('applicant', 'insured')
            AND NOT (coalesce(p.id_n = s.id_n, false) OR coalesce(p.name_n = s.name_n, false))
          UNION
          SELECT DISTINCT p.policy_no, p.role, p.seq, 'phone' AS field, p.phone AS value, NULL AS proposed
          FROM pt p JOIN stf s ON s.mobile_n = p.phone_n
          WHERE p.role IN ('applicant', 'insured')
            AND NOT (coalesce(p.id_n = s.id_n, false) OR coalesce(p.name_n = s.name_n, false))
          """,
        cross_record=True,
    ),
    Check(
        "PH06",
        "suspicious",
        "high",
        APP,
        ("mobile",),
        "同一手机号被3个及以上非同一家庭的投保人使用",
        "The same mobile is the applicant's mobile for 3 or more applicants who are not one family",
        "Practice",
        family_shared("mobile_n", "surname || '|' || coalesce(addr_n, '')", APP, "mobile"),
        {"min_applicants": 3},
        cross_record=True,
    ),
    Check(
        "PH07",
        "false",
        "high",
        APP,
        ("mobile", "phone"),
        "投保人电话是合作网点或分支机构的电话",
        "The applicant's phone is a partner outlet's or branch's phone",
        "Practice",
        """
          SELECT policy_no, role, seq, 'mobile' AS field, mobile AS value, NULL AS proposed FROM pt
          WHERE role = 'applicant'
            AND CASE WHEN mobile_digits THEN mobile_n ELSE regexp_replace(mobile_n, '[^0-9]', '', 'g') END
                IN (SELECT ph FROM outlet_phone)
          UNION ALL
          SELECT policy_no, role, seq, 'phone' AS field, phone AS value, NULL AS proposed FROM pt
          WHERE role = 'applicant' AND regexp_replace(phone_n, '[^0-9]', '', 'g') IN (SELECT ph FROM outlet_phone)
          """,
        cross_record=True,
    ),
    Check(
        "PH08",
        "suspicious",
        "medium",
        APP,
        ("mobile", "phone"),
        "回访接通后客户否认投保或信息不符，或号码错误",
        "A return visit reached the number on file and the person denied the purchase or details did not match, "
        "or the number was wrong",
        "M82",
        """
          SELECT DISTINCT p.policy_no, p.role, p.seq,
                 CASE WHEN regexp_replace(v.contact, '[^0-9]', '', 'g') = regexp_replace(p.phone_n, '[^0-9]', '', 'g')
                      AND regexp_replace(v.contact, '[^0-9]', '', 'g') <> coalesce(p.mobile_n, '')
                      THEN 'phone' ELSE 'mobile' END AS field,
                 CASE WHEN regexp_replace(v.contact, '[^0-9]', '', 'g') = regexp_replace(p.phone_n, '[^0-9]', '', 'g')
                      AND regexp_replace(v.contact, '[^0-9]', '', 'g') <> coalesce(p.mobile_n, '')
                      THEN p.phone ELSE p.mobile END AS value,
                 NULL AS proposed
          FROM visits v JOIN pt p ON p.policy_no = v.policy_no AND p.role = 'applicant'
          WHERE v.outcome IN ('mismatch', 'wrong_number')
          """,
        cross_record=True,
    ),
    # --- AD ------------------------------------------------------------------------------------
    Check(
        "AD01",
        "missing",
        "high",
        APP,
        ("address",),
        "投保人地址为空",
        "The applicant's address is empty",
        "M82",
        row("addr_n IS NULL", "address", APP),
    ),
    Check(
        "AD02",
        "false",
        "medium",
        APP,
        ("address",),
        "占位地址（如“无”“不详”“同上”或重复字符）",
        "Placeholder address (无, 不详, 同上, a repeated character…)",
        "M82",
        row(
            f"addr_ph OR {repeated('addr_n')}",
            "address",
            APP,
        ),
    ),
    Check(
        "AD03",
        "false",
        "medium",
        APP,
        ("address",),
        "地址不够详细，无法投递（过短、无门牌号或以“附近”“路”等结尾）",
        "Address not detailed enough to deliver a letter (too short, no house number, or ends in 附近/路…)",
        "Practice",
        row(
            # the rarely true part first; a character is at most 4 bytes, so length < n needs strlen < 4n
            "addr_n IS NOT NULL AND ("
            f"{ends_any('addr_n', VAGUE_ENDS)}"
            " OR (strlen(addr_n) < 4 * ${min_len} AND length(addr_n) < ${min_len})"
            f" OR (NOT regexp_matches(addr_n, '{HOUSE_NUMBER_RE}') AND NOT {contains_any('addr_n', RURAL)}))"
            f" AND NOT addr_ph AND NOT {repeated('addr_n')}",
            "address",
            APP,
        ),
        {"min_len": 8},
    ),
    Check(
        "AD04",
        "false",
        "high",
        APP,
        ("address",),
        "投保人地址是分支机构或合作网点的地址，或含网点字样（客户非员工）",
        "The applicant's address is a branch's or partner outlet's address, or contains outlet wording, "
        "and the customer is not staff",
        "M82, Practice",
        f"""
          WITH ca AS (  -- distinct customer addresses of applicants who are not staff
            SELECT DISTINCT addr_n AS a FROM pt
            WHERE role = 'applicant' AND addr_n IS NOT NULL
              AND {NOT_STAFF}
          ),
          -- the tokens: a candidate pair shares the road (…路/街/道/巷/弄), the first 6 characters and
          -- every numbered part (house number, building, unit, room), and the lengths differ by at most a
          -- quarter (a pair whose character sets reach Jaccard 0.8)
          kc AS (
            SELECT a, {STREET_A} AS k1, substr(a, 1, 6) AS k2,
                   length(a) AS n FROM ca
          ),
          ko AS (  -- the outlets with a street (so a customer address without one never matches)
            SELECT a, {STREET_A} AS k1, substr(a, 1, 6) AS k2,
                   length(a) AS n FROM outlet_addr
            WHERE {STREET_A} <> ''
          ),
          cand AS (
            SELECT DISTINCT kc.a AS a, ko.a AS o FROM kc JOIN ko ON kc.k1 = ko.k1 AND kc.k2 = ko.k2
            WHERE 4 * abs(kc.n - ko.n) <= greatest(kc.n, ko.n) AND {numbers("kc.a")} = {numbers("ko.a")}
          ),
          ch AS (  -- distinct characters of every address in a candidate pair
            SELECT DISTINCT x.s, substr(x.s, n.i, 1) AS c
            FROM (SELECT a AS s FROM cand UNION SELECT o AS s FROM cand) x
            JOIN ref_numbers n ON n.i <= length(x.s)
          ),
          sz AS (SELECT s, count(*) AS n FROM ch GROUP BY s),
          sim AS (
            SELECT cand.a, cand.o, count(*) AS shared
            FROM cand JOIN ch ca1 ON ca1.s = cand.a JOIN ch co ON co.s = cand.o AND co.c = ca1.c
            GROUP BY cand.a, cand.o
          ),
          hit AS (
            SELECT sim.a FROM sim JOIN sz za ON za.s = sim.a JOIN sz zo ON zo.s = sim.o
            WHERE sim.a = sim.o OR CAST(sim.shared AS DOUBLE) / (za.n + zo.n - sim.shared) >= ${{jaccard}}
            UNION
            SELECT a FROM ca WHERE a IN (SELECT a FROM outlet_addr)
               OR (contains(a, '邮政') OR contains(a, '邮局') OR contains(a, '营业所') OR contains(a, '营业部')
                   OR contains(a, '支行') OR contains(a, '网点') OR contains(a, '支局'))
          )
          SELECT pt.policy_no, pt.role, pt.seq, 'address' AS field, pt.address AS value, NULL AS proposed
          FROM pt JOIN hit ON hit.a = pt.addr_n
          WHERE pt.role = 'applicant' AND {NOT_STAFF}
          """,
        {"jaccard": 0.8},
        cross_record=True,
    ),
    Check(
        "AD05",
        "suspicious",
        "medium",
        APP,
        ("address",),
        "同一地址被3个及以上非同一家庭的投保人使用",
        "The same address is given by 3 or more applicants who are not one family",
        "Practice",
        family_shared("addr_n", "surname", APP, "address"),
        {"min_applicants": 3},
        cross_record=True,
    ),
    Check(
        "AD06",
        "suspicious",
        "low",
        APP,
        ("postcode",),
        "邮政编码不是6位数字，或与地址所在省份不符",
        "Postcode is not 6 digits or its province prefix contradicts the address's province",
        "Practice",
        row(
            f"postcode_n IS NOT NULL AND (NOT regexp_matches(postcode_n, '{POSTCODE_RE}')"
            " OR (prov IS NOT NULL AND NOT postcode_in_prov))",
            "postcode",
            APP,
        ),
    ),
    # --- EM ------------------------------------------------------------------------------------
    Check(
        "EM01",
        "false",
        "low",
        ALL,
        ("email",),
        "电子邮箱格式无效",
        "E-mail address is syntactically invalid",
        "Practice",
        row(
            f"email_n IS NOT NULL AND (NOT regexp_matches(email_n, '{EMAIL_RE}')"
            " OR contains(email_n, '..') OR starts_with(email_n, '.') OR contains(email_n, '.@'))",
            "email",
        ),
    ),
    Check(
        "EM02",
        "suspicious",
        "medium",
        APP,
        ("email",),
        "同一电子邮箱被3个及以上非同一家庭的投保人使用",
        "The same e-mail is used by 3 or more applicants who are not one family",
        "Practice",
        family_shared("email_n", "surname || '|' || coalesce(addr_n, '')", APP, "email"),
        {"min_applicants": 3},
        cross_record=True,
    ),
    # --- SC ------------------------------------------------------------------------------------
    Check(
        "SC01",
        "false",
        "high",
        ALL,
        ("mobile", "phone", "address"),
        "承保后联系信息（手机、电话、地址）被修改，但无客户变更申请（保全申请号为空）",
        "A contact field (mobile, phone, address) was changed after issue without a customer change request",
        "M82",
        """
          SELECT c.policy_no, c.role, CAST(c.seq AS BIGINT) AS seq, c.field, max_by(c.new_value, c.changed_at) AS value,
                 NULL AS proposed
          FROM changes c JOIN policies po ON po.policy_no = c.policy_no
          WHERE c.field IN ('mobile', 'phone', 'address') AND po.issued_on IS NOT NULL
            AND CAST(c.changed_at AS DATE) > po.issued_on
            AND (c.request_no IS NULL OR trim(c.request_no) = '')
          GROUP BY c.policy_no, c.role, c.seq, c.field
          """,
        cross_record=True,
    ),
    Check(
        "SC02",
        "suspicious",
        "high",
        ("beneficiary",),
        ("id_no", "name"),
        "受益人是销售人员或其他员工",
        "The beneficiary is the selling agent or another staff member",
        "M82, Practice",
        """
          SELECT DISTINCT p.policy_no, p.role, p.seq, 'id_no' AS field, p.id_no AS value, NULL AS proposed
          FROM pt p JOIN stf s ON s.id_n = p.id_n
          WHERE p.role = 'beneficiary'
          UNION
          SELECT DISTINCT p.policy_no, p.role, p.seq, 'name' AS field, p.name AS value, NULL AS proposed
          FROM pt p JOIN stf s ON s.name_n = p.name_n
           AND TRY_CAST(s.id_birth8 AS INTEGER) = year(coalesce(p.birth_date, p.id_birth)) * 10000
               + month(coalesce(p.birth_date, p.id_birth)) * 100 + day(coalesce(p.birth_date, p.id_birth))
          WHERE p.role = 'beneficiary' AND p.id_n IS DISTINCT FROM s.id_n
          """,
        cross_record=True,
    ),
    Check(
        "SC03",
        "suspicious",
        "high",
        ("policy",),
        ("agent_no",),
        "销售人员在行业黑名单上，或投保前已离职",
        "Sold by an agent on the industry blacklist, or who had left before the application date",
        "M82",
        """
          SELECT DISTINCT po.policy_no, 'policy' AS role, CAST(0 AS BIGINT) AS seq, 'agent_no' AS field,
                 po.agent_no AS value, NULL AS proposed
          FROM policies po JOIN stf s ON s.staff_no = po.agent_no
          WHERE (s.left_on IS NOT NULL AND po.applied_on IS NOT NULL AND s.left_on < po.applied_on)
             OR EXISTS (SELECT 1 FROM blacklist b WHERE b.staff_no = s.staff_no
                        OR (b.id_no IS NOT NULL AND upper(trim(b.id_no)) = s.id_n))
          """,
        cross_record=True,
    ),
    Check(
        "SC04",
        "missing",
        "medium",
        ("policy",),
        ("role",),
        "保单缺少投保人或被保险人",
        "The policy has no applicant or no insured row",
        "M82",
        """
          SELECT po.policy_no, 'policy' AS role, CAST(0 AS BIGINT) AS seq, 'role' AS field,
                 CASE WHEN coalesce(r.a, 0) = 0 AND coalesce(r.i, 0) = 0 THEN 'applicant,insured'
                      WHEN coalesce(r.a, 0) = 0 THEN 'applicant' ELSE 'insured' END AS value, NULL AS proposed
          FROM policies po
          LEFT JOIN (  -- one pass over the parties: has the policy an applicant, an insured?
            SELECT policy_no, max(CASE WHEN role = 'applicant' THEN 1 ELSE 0 END) AS a,
                   max(CASE WHEN role = 'insured' THEN 1 ELSE 0 END) AS i
            FROM pt GROUP BY policy_no
          ) r ON r.policy_no = po.policy_no
          WHERE coalesce(r.a, 0) = 0 OR coalesce(r.i, 0) = 0
          """,
        cross_record=True,
    ),
]

BY_CODE: dict[str, Check] = {c.code: c for c in CATALOGUE}


@dataclass
class CheckSettings:
    """Which checks run and with which thresholds; recorded with every finding."""

    enabled: frozenset[str] = field(default_factory=lambda: frozenset(BY_CODE))
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> {param: value}
    as_of: date | None = None  # "today" for ID04; default the run date

    def param(self, code: str, name: str) -> Any:
        return self.params.get(code, {}).get(name, BY_CODE[code].params[name])

    def params_for(self, code: str) -> dict[str, Any]:
        out = {**BY_CODE[code].params, **self.params.get(code, {})}
        if "as_of" in out:
            out["as_of"] = self.as_of or out["as_of"]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": sorted(self.enabled),
            "params": {
                c.code: {
                    k: (v.isoformat() if isinstance(v, date) else v)
                    for k, v in self.params_for(c.code).items()
                }
                for c in CATALOGUE
                if c.params
            },
        }

    def fingerprint(self) -> str:
        d = self.as_dict()
        d["params"].get("ID04", {}).pop("as_of", None)  # the run date is not a setting
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
