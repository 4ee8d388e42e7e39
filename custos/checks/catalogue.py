"""The check catalogue (shared/rules.md) as data: one declaration per check, run by every engine.

A check's ``sql`` is a SELECT in DuckDB SQL over the prepared views of
``custos.checks.engine.prepare`` (``pt`` = one row per party with normalised columns, ``stf``,
``outlet_phone``, ``outlet_addr``, ``plink``, the snapshot tables and the ``ref_*`` tables). It
returns ``policy_no, role, seq, field, value, proposed`` (and ``detail`` where the check says
``detail=True``). The engines transpile it with sqlglot; nothing runs row by row in Python.
``${param}`` placeholders are filled from CheckSettings. How a check is declared, and the helpers the
declarations share: custos.checks.declare.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# re-exported: the compiler and the tests name them here
from custos.checks.declare import (  # noqa: F401
    _RUN_WINDOWS,
    ALL,
    APP,
    BIRTH,
    EMAIL_RE,
    FEMALE_REL,
    GRAND_OLDER,
    GRAND_YOUNGER,
    HAN_NAME_RE,
    HOUSE_NUMBER_RE,
    INS_BEN,
    LANDLINE_RE,
    MALE_REL,
    NAME_FORM_RE,
    NOT_STAFF,
    NUMBERS_RE,
    OLDER,
    POSTCODE_RE,
    RID,
    SEX,
    STREET_A,
    STREET_RE,
    VALID_ID,
    YOUNGER,
    Check,
    Rule,
    family_shared,
    may_run,
    numbers,
    numbers_agree,
    rel_check,
    repeated,
    row,
    rows,
    street,
)
from custos.checks.engine.prepare import age, contains_any, ends_any, ymd  # noqa: F401
from custos.domain.addresses import OUTLET_WORDS, RURAL, VAGUE_ENDINGS  # noqa: F401
from custos.domain.ids import RUNS  # noqa: F401
from custos.domain.names import HAN, POLITE_SUFFIXES  # noqa: F401
from custos.domain.normalize import CHINESE_NUMERALS  # noqa: F401

CATALOGUE: list[Check] = [
    # --- ID ------------------------------------------------------------------------------------
    Check(
        code="ID01",
        category="missing",
        severity="high",
        roles=ALL,
        fields=("id_type", "id_no"),
        message_zh="证件类型或证件号码为空",
        message_en="ID type or ID number is empty",
        basis="M82",
        sql=rows(row("id_type IS NULL", "id_type"), row("id_n IS NULL", "id_no")),
    ),
    Check(
        code="ID02",
        category="false",
        severity="high",
        roles=ALL,
        fields=("id_no",),
        message_zh="居民身份证号码不是18位（17位数字加校验位）",
        message_en="Resident ID number is not 18 characters (17 digits and a check digit)",
        basis="GB11643",
        sql=row(
            f"{RID} AND id_n IS NOT NULL AND NOT coalesce(id18, false) AND NOT coalesce(id15, false)", "id_no"
        ),
    ),
    Check(
        code="ID03",
        category="false",
        severity="high",
        roles=ALL,
        fields=("id_no",),
        message_zh="身份证号码校验位错误",
        message_en="Check digit of the ID number is wrong",
        basis="GB11643",
        sql=row("id18 AND id_check <> substr(id_n, 18, 1)", "id_no"),
    ),
    Check(
        code="ID04",
        category="false",
        severity="high",
        roles=ALL,
        fields=("id_no",),
        message_zh="身份证号码中的出生日期不是真实日期、晚于今天或早于1900年",
        message_en="The birth date in the ID number is not a real date, is in the future or before 1900",
        basis="GB11643",
        sql=row("(id18 OR id15) AND (NOT id_date_real OR id_birth > ${as_of} OR id_y < 1900)", "id_no"),
        params={"as_of": date.today()},
    ),
    Check(
        code="ID05",
        category="false",
        severity="high",
        roles=ALL,
        fields=("id_no",),
        message_zh="身份证号码的地址码在GB2260中从未存在",
        message_en="The ID number's address code never existed in GB2260",
        basis="GB2260",
        sql=row("(id18 OR id15) AND substr(id_n, 1, 1) <> '9' AND NOT gb_known", "id_no"),
    ),
    Check(
        code="ID06",
        category="false",
        severity="high",
        roles=ALL,
        fields=("birth_date",),
        message_zh="出生日期与身份证号码中的出生日期不一致",
        message_en="Birth date differs from the date in the ID number",
        basis="M82, GB11643",
        sql=row(
            "(id18 OR id15) AND id_date_real AND birth_date IS NOT NULL AND birth_date <> id_birth",
            "birth_date",
            value="CAST(birth_date AS VARCHAR)",
            proposed="CAST(id_birth AS VARCHAR)",
        ),
    ),
    Check(
        code="ID07",
        category="false",
        severity="high",
        roles=ALL,
        fields=("gender",),
        message_zh="性别与身份证号码第17位不一致（奇数为男）",
        message_en="Gender differs from the ID number's 17th digit (odd = male)",
        basis="M82, GB11643",
        sql=row(
            "(id18 OR id15) AND gender IS NOT NULL AND gender <> id_gender", "gender", proposed="id_gender"
        ),
    ),
    Check(
        code="ID08",
        category="false",
        severity="high",
        roles=ALL,
        fields=("id_no",),
        message_zh="占位身份证号码（重复数字、连续数字、顺序码为000或公开示例号码）",
        message_en="Placeholder ID number (one digit repeated, a run of digits, sequence 000, or a published example)",
        basis="M82",
        sql=row(
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
        code="ID09",
        category="false",
        severity="high",
        roles=ALL,
        fields=("id_no",),
        message_zh="同一身份证号码在不同保单上对应不同的姓名或出生日期",
        message_en="The same ID number carries different names or birth dates across the book",
        basis="M82",
        sql="""
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
        code="ID10",
        category="missing",
        severity="medium",
        roles=ALL,
        fields=("id_no",),
        message_zh="15位旧身份证号码，须升级为18位（已给出建议号码）",
        message_en="Legacy 15-digit ID number: must be upgraded to 18 digits (custos proposes the 18-digit form)",
        basis="M82, GB11643",
        sql=row("id15", "id_no", proposed="id_upgraded"),
    ),
    Check(
        code="ID11",
        category="false",
        severity="medium",
        roles=ALL,
        fields=("id_type", "id_no"),
        message_zh="证件类型与证件号码不符",
        message_en="ID type contradicts the number",
        basis="M82",
        sql=row(
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
        code="ID12",
        category="false",
        severity="medium",
        roles=ALL,
        fields=("id_valid_until",),
        message_zh="证件在投保日期之前已过期",
        message_en="The document had expired before the application date",
        basis="M82",
        sql=row(
            "id_valid_until IS NOT NULL AND applied_on IS NOT NULL AND id_valid_until < applied_on",
            "id_valid_until",
            value="CAST(id_valid_until AS VARCHAR)",
        ),
    ),
    # --- NM ------------------------------------------------------------------------------------
    Check(
        code="NM01",
        category="missing",
        severity="high",
        roles=ALL,
        fields=("name",),
        message_zh="姓名为空",
        message_en="Name is empty",
        basis="M82",
        sql=row("name_n IS NULL", "name"),
    ),
    Check(
        code="NM02",
        category="false",
        severity="high",
        roles=ALL,
        fields=("name",),
        message_zh="占位姓名（如“客户”“先生”“测试”“某某”或重复字符）",
        message_en="Placeholder name (客户, 先生, 测试, 某某, a repeated character…)",
        basis="M82",
        sql=row(
            # one character repeated three or more times: 林林, 丹丹 are real names
            f"name_ph OR ({repeated('name_n')} AND length(name_n) >= 3)"
            " OR (substr(name_n, 1, 1) IN ('x', 'X', '*') AND regexp_matches(name_n, '^[xX*]+$'))"
            f" OR ({ends_any('name_n', POLITE_SUFFIXES)} AND length(name_n) = 3"
            f" AND regexp_matches(substr(name_n, 1, 1), '^[{HAN}]$'))",
            "name",
        ),
    ),
    Check(
        code="NM03",
        category="false",
        severity="medium",
        roles=ALL,
        fields=("name",),
        message_zh="姓名含有不可能出现的字符（数字、除间隔号·外的标点、中英文混杂）",
        message_en="Name contains characters a name cannot have (digits, punctuation other than ·, mixed scripts)",
        basis="M82",
        sql=row(f"NOT regexp_matches(name_d, '{NAME_FORM_RE}')", "name"),
    ),
    Check(
        code="NM04",
        category="suspicious",
        severity="low",
        roles=ALL,
        fields=("name",),
        message_zh="中文姓名长度不合常理（1个字，或无间隔号超过6个字）",
        message_en="Implausible length for a Chinese name (1 character, or more than 6 without a middle dot)",
        basis="Practice",
        sql=row(
            "(length(name_n) = 1 OR (length(name_n) > ${max_len} AND NOT contains(name_d, '·')))"
            f" AND regexp_matches(name_d, '{HAN_NAME_RE}')",
            "name",
        ),
        params={"max_len": 6},
    ),
    # --- BD ------------------------------------------------------------------------------------
    Check(
        code="BD01",
        category="missing",
        severity="high",
        roles=ALL,
        fields=("birth_date", "gender"),
        message_zh="出生日期或性别为空（且无有效身份证可提供）",
        message_en="Birth date or gender is empty (and no valid ID supplies them)",
        basis="M82",
        sql=rows(
            row(f"birth_date IS NULL AND NOT ({VALID_ID})", "birth_date"),
            row(f"gender IS NULL AND NOT ({VALID_ID})", "gender"),
        ),
    ),
    Check(
        code="BD02",
        category="false",
        severity="high",
        roles=ALL,
        fields=("birth_date",),
        message_zh="出生日期晚于投保日期，或投保时年龄超过120岁",
        message_en="Born after the application date, or older than 120 at application",
        basis="M82",
        sql=row(
            f"birth_date IS NOT NULL AND applied_on IS NOT NULL AND (birth_date > applied_on"
            # whole years never exceed the difference of the years: test that first
            f" OR (year(applied_on) - year(birth_date) > 120 AND {age('birth_date', 'applied_on')} > 120))",
            "birth_date",
            value="CAST(birth_date AS VARCHAR)",
        ),
    ),
    Check(
        code="BD03",
        category="suspicious",
        severity="medium",
        roles=APP,
        fields=("birth_date",),
        message_zh="投保人投保时未满18周岁",
        message_en="The applicant was younger than 18 at application",
        basis="Practice",
        sql=row(
            f"{BIRTH} IS NOT NULL AND applied_on IS NOT NULL AND {BIRTH} <= applied_on"
            # whole years are at least the difference of the years less one: test that first
            f" AND year(applied_on) - year({BIRTH}) <= ${{min_age}} AND {age(BIRTH, 'applied_on')} < ${{min_age}}",
            "birth_date",
            APP,
            value="CAST(birth_date AS VARCHAR)",
        ),
        params={"min_age": 18},
    ),
    # --- RL ------------------------------------------------------------------------------------
    Check(
        code="RL01",
        category="false",
        severity="high",
        roles=INS_BEN,
        fields=("relation",),
        message_zh="关系与年龄矛盾（如父母比子女年长不足12岁、哥哥姐姐更年轻）",
        message_en="Relation contradicts ages (a parent less than 12 years older than the child, an elder sibling younger…)",
        basis="Practice",
        sql=rel_check(
            f"""b IS NOT NULL AND ob IS NOT NULL AND (
               (relation IN {OLDER} AND {ymd("b")} + ${{parent_gap}} * 10000 > {ymd("ob")})
            OR (relation IN {YOUNGER} AND {ymd("ob")} + ${{parent_gap}} * 10000 > {ymd("b")})
            OR (relation IN {GRAND_OLDER} AND {ymd("b")} + ${{grandparent_gap}} * 10000 > {ymd("ob")})
            OR (relation IN {GRAND_YOUNGER} AND {ymd("ob")} + ${{grandparent_gap}} * 10000 > {ymd("b")})
            OR (relation IN ('elder_brother', 'elder_sister') AND b > ob)
            OR (relation IN ('younger_brother', 'younger_sister') AND b < ob))"""
        ),
        params={"parent_gap": 12, "grandparent_gap": 30},
        cross_record=True,
    ),
    Check(
        code="RL02",
        category="false",
        severity="high",
        roles=INS_BEN,
        fields=("relation",),
        message_zh="关系与性别矛盾（如“父亲”为女性、“女儿”为男性）",
        message_en="Relation contradicts gender (a father who is female, a daughter who is male…)",
        basis="Practice",
        sql=rel_check(
            f"""(relation IN {MALE_REL} AND sx = 'F') OR (relation IN {FEMALE_REL} AND sx = 'M')"""
        ),
        cross_record=True,
    ),
    Check(
        code="RL03",
        category="false",
        severity="high",
        roles=("insured",),
        fields=("relation",),
        message_zh="关系为“本人”，但姓名、证件号码或出生日期与投保人不同",
        message_en="Relation is 'self' but name, ID or birth date differ from the applicant's",
        basis="M82",
        sql=rel_check(
            # a value missing on either side is NM01's, ID01's or BD01's finding, not a contradiction
            """role = 'insured' AND relation = 'self' AND (name_n <> o_name OR id_n <> o_id
             OR birth_date <> o_birth_date)"""
        ),
        cross_record=True,
    ),
    Check(
        code="RL04",
        category="suspicious",
        severity="medium",
        roles=INS_BEN,
        fields=("relation",),
        message_zh="关系为“配偶”但投保时未达法定婚龄（男22岁、女20岁）",
        message_en="Relation 'spouse' below the legal marriage age (22 men, 20 women) at application",
        basis="Practice",
        sql=rel_check(
            f"""relation = 'spouse' AND b IS NOT NULL AND applied_on IS NOT NULL AND sx IS NOT NULL
            AND {age("b", "applied_on")} < CASE WHEN sx = 'M' THEN ${{male_age}} ELSE ${{female_age}} END"""
        ),
        params={"male_age": 22, "female_age": 20},
        cross_record=True,
    ),
    # --- PH ------------------------------------------------------------------------------------
    Check(
        code="PH01",
        category="missing",
        severity="high",
        roles=APP,
        fields=("mobile",),
        message_zh="投保人既无手机号也无固定电话",
        message_en="The applicant has neither a mobile nor a fixed line",
        basis="M82",
        sql=row("mobile_n IS NULL AND phone_n IS NULL", "mobile", APP),
    ),
    Check(
        code="PH02",
        category="false",
        severity="high",
        roles=ALL,
        fields=("mobile",),
        message_zh="手机号不是11位或不在工信部分配的可通话号段（上网卡/物联网号段无效）",
        message_en="Mobile is not 11 digits in a segment MIIT allocated for calls (data-only/IoT segments are invalid)",
        basis="MIIT",
        sql=row(
            "mobile_n IS NOT NULL AND (seg_valid = 0"
            " OR NOT (length(mobile_n) = 11 AND substr(mobile_n, 1, 1) = '1' AND mobile_digits))",
            "mobile",
            None,
        ),
    ),
    Check(
        code="PH03",
        category="false",
        severity="high",
        roles=ALL,
        fields=("mobile",),
        message_zh="占位手机号（如13800138000、重复数字、连续数字、尾号全零）",
        message_en="Placeholder mobile (13800138000, one digit repeated, a run of digits, a zero tail)",
        basis="Practice",
        sql=row(
            f"mobile_n IS NOT NULL AND (mobile_ph OR {repeated('mobile_n')}"
            f" OR ({may_run('mobile_n')} AND {contains_any('mobile_n', RUNS)})"
            " OR right(mobile_n, ${tail_zeros}) = repeat('0', ${tail_zeros}))",
            "mobile",
        ),
        params={"tail_zeros": 7},
    ),
    Check(
        code="PH04",
        category="false",
        severity="medium",
        roles=ALL,
        fields=("phone",),
        message_zh="固定电话不是“0+区号+7至8位号码”（区号10和2x须8位）",
        message_en="Fixed line is not 0 + area code + 7–8 digits (area codes 10 and 2x take 8)",
        basis="MIIT",
        sql=row(
            f"phone_n IS NOT NULL AND NOT (area_known AND regexp_matches(phone_n, '{LANDLINE_RE}'))",
            "phone",
        ),
    ),
    Check(
        code="PH05",
        category="false",
        severity="high",
        roles=("applicant", "insured"),
        fields=("mobile", "phone"),
        message_zh="客户电话是销售人员或其他员工的电话（销售人员电话出单）",
        message_en="The customer's phone is a staff member's (the selling agent's or another employee's)",
        basis="M82, Practice",
        sql="""
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
        code="PH06",
        category="suspicious",
        severity="high",
        roles=APP,
        fields=("mobile",),
        message_zh="同一手机号被3个及以上非同一家庭的投保人使用",
        message_en="The same mobile is the applicant's mobile for 3 or more applicants who are not one family",
        basis="Practice",
        sql=family_shared("mobile_n", "surname || '|' || coalesce(addr_n, '')", APP, "mobile"),
        params={"min_applicants": 3},
        cross_record=True,
    ),
    Check(
        code="PH07",
        category="false",
        severity="high",
        roles=APP,
        fields=("mobile", "phone"),
        message_zh="投保人电话是合作网点或分支机构的电话",
        message_en="The applicant's phone is a partner outlet's or branch's phone",
        basis="Practice",
        sql="""
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
        code="PH08",
        category="suspicious",
        severity="medium",
        roles=APP,
        fields=("mobile", "phone"),
        message_zh="回访接通后客户否认投保或信息不符，或号码错误",
        message_en="A return visit reached the number on file and the person denied the purchase or details did not match, "
        "or the number was wrong",
        basis="M82",
        sql="""
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
        code="AD01",
        category="missing",
        severity="high",
        roles=APP,
        fields=("address",),
        message_zh="投保人地址为空",
        message_en="The applicant's address is empty",
        basis="M82",
        sql=row("addr_n IS NULL", "address", APP),
    ),
    Check(
        code="AD02",
        category="false",
        severity="medium",
        roles=APP,
        fields=("address",),
        message_zh="占位地址（如“无”“不详”“同上”或重复字符）",
        message_en="Placeholder address (无, 不详, 同上, a repeated character…)",
        basis="M82",
        sql=row(
            f"addr_ph OR {repeated('addr_n')}",
            "address",
            APP,
        ),
    ),
    Check(
        code="AD03",
        category="false",
        severity="medium",
        roles=APP,
        fields=("address",),
        message_zh="地址不够详细，无法投递（过短、无门牌号或以“附近”“路”等结尾）",
        message_en="Address not detailed enough to deliver a letter (too short, no house number, or ends in 附近/路…)",
        basis="Practice",
        sql=row(
            # the rarely true part first; a character is at most 4 bytes, so length < n needs strlen < 4n
            "addr_n IS NOT NULL AND ("
            f"{ends_any('addr_n', VAGUE_ENDINGS)}"
            " OR (strlen(addr_n) < 4 * ${min_len} AND length(addr_n) < ${min_len})"
            f" OR (NOT regexp_matches(addr_n, '{HOUSE_NUMBER_RE}') AND NOT {contains_any('addr_n', RURAL)}))"
            f" AND NOT addr_ph AND NOT {repeated('addr_n')}",
            "address",
            APP,
        ),
        params={"min_len": 8},
    ),
    Check(
        code="AD04",
        category="false",
        severity="high",
        roles=APP,
        fields=("address",),
        message_zh="投保人地址是分支机构或合作网点的地址，或含网点字样（客户非员工）",
        message_en="The applicant's address is a branch's or partner outlet's address, or contains outlet wording, "
        "and the customer is not staff",
        basis="M82, Practice",
        sql=f"""
          WITH ca AS (  -- distinct customer addresses of applicants who are not staff
            SELECT DISTINCT addr_n AS a FROM pt
            WHERE role = 'applicant' AND addr_n IS NOT NULL
              AND {NOT_STAFF}
          ),
          -- the tokens: a candidate pair shares the road (…路/街/道/巷/弄) and the first 6 characters, its
          -- numbered parts (house number, building, unit, room) agree as far as both go, and the lengths
          -- differ by at most a quarter (a pair whose character sets reach Jaccard 0.8)
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
            WHERE 4 * abs(kc.n - ko.n) <= greatest(kc.n, ko.n) AND {numbers_agree("kc.a", "ko.a")}
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
               OR {contains_any("a", OUTLET_WORDS)}
          )
          SELECT pt.policy_no, pt.role, pt.seq, 'address' AS field, pt.address AS value, NULL AS proposed
          FROM pt JOIN hit ON hit.a = pt.addr_n
          WHERE pt.role = 'applicant' AND {NOT_STAFF}
          """,
        params={"jaccard": 0.8},
        cross_record=True,
    ),
    Check(
        code="AD05",
        category="suspicious",
        severity="medium",
        roles=APP,
        fields=("address",),
        message_zh="同一地址被3个及以上非同一家庭的投保人使用",
        message_en="The same address is given by 3 or more applicants who are not one family",
        basis="Practice",
        sql=family_shared("addr_n", "surname", APP, "address"),
        params={"min_applicants": 3},
        cross_record=True,
    ),
    Check(
        code="AD06",
        category="suspicious",
        severity="low",
        roles=APP,
        fields=("postcode",),
        message_zh="邮政编码不是6位数字，或与地址所在省份不符",
        message_en="Postcode is not 6 digits or its province prefix contradicts the address's province",
        basis="Practice",
        sql=row(
            f"postcode_n IS NOT NULL AND (NOT regexp_matches(postcode_n, '{POSTCODE_RE}')"
            " OR (prov IS NOT NULL AND NOT postcode_in_prov))",
            "postcode",
            APP,
        ),
    ),
    # --- EM ------------------------------------------------------------------------------------
    Check(
        code="EM01",
        category="false",
        severity="low",
        roles=ALL,
        fields=("email",),
        message_zh="电子邮箱格式无效",
        message_en="E-mail address is syntactically invalid",
        basis="Practice",
        sql=row(
            f"email_n IS NOT NULL AND (NOT regexp_matches(email_n, '{EMAIL_RE}')"
            " OR contains(email_n, '..') OR starts_with(email_n, '.') OR contains(email_n, '.@'))",
            "email",
        ),
    ),
    Check(
        code="EM02",
        category="suspicious",
        severity="medium",
        roles=APP,
        fields=("email",),
        message_zh="同一电子邮箱被3个及以上非同一家庭的投保人使用",
        message_en="The same e-mail is used by 3 or more applicants who are not one family",
        basis="Practice",
        sql=family_shared("email_n", "surname || '|' || coalesce(addr_n, '')", APP, "email"),
        params={"min_applicants": 3},
        cross_record=True,
    ),
    # --- SC ------------------------------------------------------------------------------------
    Check(
        code="SC01",
        category="false",
        severity="high",
        roles=ALL,
        fields=("mobile", "phone", "address"),
        message_zh="承保后联系信息（手机、电话、地址）被修改，但无客户变更申请（保全申请号为空）",
        message_en="A contact field (mobile, phone, address) was changed after issue without a customer change request",
        basis="M82",
        sql="""
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
        code="SC02",
        category="suspicious",
        severity="high",
        roles=("beneficiary",),
        fields=("id_no", "name"),
        message_zh="受益人是销售人员或其他员工",
        message_en="The beneficiary is the selling agent or another staff member",
        basis="M82, Practice",
        sql="""
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
        code="SC03",
        category="suspicious",
        severity="high",
        roles=("policy",),
        fields=("agent_no",),
        message_zh="销售人员在行业黑名单上，或投保前已离职",
        message_en="Sold by an agent on the industry blacklist, or who had left before the application date",
        basis="M82",
        sql="""
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
        code="SC04",
        category="missing",
        severity="medium",
        roles=("policy",),
        fields=("role",),
        message_zh="保单缺少投保人或被保险人",
        message_en="The policy has no applicant or no insured row",
        basis="M82",
        sql="""
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
