"""custos_native (the preparing pass's per-value work as a compiled DuckDB extension) computes exactly
what the SQL it replaces computes: every column of the prepared party row, over edge cases and
generated hostile values, and the findings of a whole book."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custos.checks import native
from custos.checks.engine import duck
from custos.checks.engine.prepare import parties_full
from tests.conftest import require

COLUMNS = ("name", "id_no", "mobile", "phone", "address", "postcode", "email")


@pytest.fixture(scope="module")
def con():
    require(
        shutil.which("cc") is not None or shutil.which("gcc") is not None,
        "no C compiler to build custos_native",
    )
    c = duck.connect(1)
    assert duck.has_native(c), "custos_native did not load although a compiler is present"
    duck.register_refs(c)
    c.execute("CREATE TABLE policies (policy_no VARCHAR, applied_on DATE)")
    c.execute("INSERT INTO policies VALUES ('P1', DATE '2024-03-01')")
    yield c
    c.close()


def _prepared(con, rows: list[tuple]) -> tuple[list, list]:
    """parties_full over ``rows`` (one value per COLUMNS each) with the native functions and with SQL."""
    con.execute(
        "CREATE OR REPLACE TABLE parties AS SELECT 'P1' AS policy_no, "
        "CASE WHEN i % 3 = 0 THEN 'applicant' WHEN i % 3 = 1 THEN 'insured' ELSE 'beneficiary' END AS role, "
        "i AS seq, NULL::VARCHAR AS relation, NULL::VARCHAR AS gender, DATE '1980-01-01' AS birth_date, "
        "'resident_id' AS id_type, NULL::DATE AS id_valid_until, "
        + ", ".join(f"v[{k + 1}] AS {c}" for k, c in enumerate(COLUMNS))
        + " FROM (SELECT unnest(range(len(?))) AS i, unnest(?::VARCHAR[][]) AS v)",
        [rows, [list(r) for r in rows]],
    )
    order = " ORDER BY seq"
    fast = con.execute(f"SELECT * FROM ({parties_full(native=True)}) x{order}").fetchall()
    sql = con.execute(f"SELECT * FROM ({parties_full(native=False)}) x{order}").fetchall()
    return fast, sql


EDGE = [
    None,
    "",
    " ",
    "　",
    "张三",
    "张 三",
    "阿依古丽·买买提",
    "Ａ１２",
    "ｘ",
    "11010519491231002X",
    "11010519491231002x",
    " 11010519491231002X ",
    "１１０１０５１９４９１２３１００２Ｘ",
    "110105491231002",
    "11010519491231002",
    "1101051949123100211",
    "13800138000",
    "+8613800138000",
    "008613800138000",
    "8613800138000",
    "86138001380",
    "+86 138-0013-8000",
    "(010)12345678",
    "010-12345678",
    "+8６13800138000",
    "北京市朝阳区建国路1号",
    "北京市朝阳区建国路1号,3单元",
    "广东省深圳市ABC大厦",
    "ÀÉÎ街",
    "Ωmega路",
    "上海市（浦东）",
    "100000",
    "１０００００",
    "A@Example.COM",
    "a b@x.cn",
    '=HYPERLINK("x")',
    "\t13800138000",
    "1３800138000",
    "８６13800138000",
    # reference lookups: placeholders, provinces and postcodes, area codes, segments, GB2260
    "测试",
    "TEST",
    "N/A",
    "ÀLVARO",
    "ΣΟΦΙΑ",
    "阿依•木拉",
    "不详",
    "13800000000",
    "14912345678",
    "14012345678",
    "1440123456",
    "13491234567",
    "01012345678",
    "031112345678",
    "0755-1234567",
    "转01012345678",
    "0１012345678",
    "9101",
    "内蒙古呼和浩特市新华大街1号",
    "黑龙江哈尔滨市中央大街2号",
    "010000",
    "150000",
    "110118199001011234",
    "999999199001011234",
    "010-" + "1" * 5000,  # longer than custos_unseparated takes: the SQL's slow path
    "-" * 4096,
    "000000000000000000",
    # each character the address fast-path test looks for, alone (custos_slow's byte table)
    "建国路1)号", "建国路(1号", "建国路_1号", "建国路/1号", "建国路#1号", "建国路.1号", "建国路-1号",
    "北京市、朝阳区", "北京市朝阳区。", "Ԁ路", "ԯ路", "ð路",
    # the ID's date of birth and sex digit (custos_parts' id_birth and id_gender)
    "110105000002291234", "110105190002291234", "110105200002291234", "110105999912311234",
    "110105202313011234", "110105202304311234", "110105202304301234", "110105202304001234",
    "110105202306311234", "110105202311311234", "110105202309311234", "110105202312311234",
    "110105202302281221", "110105202302291232", "110105800229123", "110105810229124",
]  # fmt: skip


# Values already in normal form, per column: the rows custos_prepared computes whole.
CLEAN = {
    "name": ["张三", "李小龙", "test", "Zhang", "", None, "测试", "王"],
    "id_no": ["11010519491231002X", "11010519491231002x", "110105491231002", "999999199001011234", "", None,
              "000000000000000000", "E12345678", "110118199002301234"],
    "mobile": ["13800138000", "+8613800138000", "008613800138000", "8613800138000", "14012345678", "1440123456",
               "13800000000", "", None, "1380013800a",
               "+86 138-0013-8000", "138 0013 8000", "(86)13800138000", "  ", "--", " 13800138000 "],
    "phone": ["01012345678", "031112345678", "07551234567", "9101", "", None, "0", "0533-40580201",
              "(010) 1234-5678", "  ", " - ", "()", "0\t10"],
    "address": ["北京市朝阳区建国路1号", "内蒙古呼和浩特市新华大街1号", "不详", "", None, "上海浦东"],
    "postcode": ["100000", "010000", "1", "", None, "abcdef"],
    "email": ["a@example.com", "A@Example.COM", "", None, "x@y"],
}  # fmt: skip


def test_clean_rows_give_the_same_prepared_rows(con):
    """Rows of values in normal form (the fast path), each column varied over its clean values and
    over every edge value."""
    base = [CLEAN[c][0] for c in COLUMNS]
    rows = []
    for k, c in enumerate(COLUMNS):
        for v in [*CLEAN[c], *EDGE]:
            for shift in range(3):  # other columns from their clean lists, so roles and values mix
                row = [CLEAN[o][(j + shift) % len(CLEAN[o])] for j, o in enumerate(COLUMNS)]
                row[k] = v
                rows.append(tuple(row))
    rows.append(tuple(base))
    fast, sql = _prepared(con, rows)
    assert fast == sql
    args = ", ".join(f"v[{k + 1}]" for k in range(len(COLUMNS)))
    fast_rows = con.execute(
        f"SELECT count(*) FILTER (WHERE custos_slow({args}) = 0), count(*) FROM (SELECT unnest(?::VARCHAR[][]) AS v)",
        [[list(r) for r in rows]],
    ).fetchone()
    assert fast_rows[0] > fast_rows[1] // 3, fast_rows  # most values took the fast path


def test_edge_values_give_the_same_prepared_rows(con):
    rows = [tuple(EDGE[(i + k * 7) % len(EDGE)] for k in range(len(COLUMNS))) for i in range(len(EDGE) * 7)]
    fast, sql = _prepared(con, rows)
    assert len(fast) == len(rows)
    assert fast == sql


_ALPHABET = st.sampled_from(
    list("0123456789X x+-()#,._/@8６Ｘ　ＡａÀΩ张·•、。，（）")
    + ["+86", "0086", "86", "北京", "ABC", "\u3000", "１", "\t"]
)
_VALUE = st.one_of(st.none(), st.lists(_ALPHABET, max_size=20).map("".join))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(*[_VALUE] * len(COLUMNS)), min_size=1, max_size=40))
def test_generated_values_give_the_same_prepared_rows(con, rows):
    fast, sql = _prepared(con, rows)
    assert fast == sql


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("CUSTOS_NATIVE", "0")
    native._extension.cache_clear()
    try:
        c = duck.connect(1)
        assert not duck.has_native(c)
        c.close()
    finally:
        monkeypatch.undo()
        native._extension.cache_clear()


def test_an_extension_that_does_not_load_leaves_the_sql(tmp_path, monkeypatch, caplog):
    """A file DuckDB refuses (here: not an extension at all) is logged and the engine runs on SQL."""
    bad = tmp_path / "custos_native.duckdb_extension"
    bad.write_bytes(b"not an extension")
    monkeypatch.setattr(native, "_extension", lambda: bad)
    c = duck.connect(1)
    try:
        assert not duck.has_native(c)
        assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        c.close()
    assert "did not load" in caplog.text


def test_a_changed_source_builds_a_new_file(tmp_path, monkeypatch):
    """The build folder is named after the source's hash: an edited source never loads a stale build."""
    require(shutil.which("cc") is not None, "no C compiler")
    before = native._digest()
    src = tmp_path / "custos_native.c"
    src.write_text(native.SOURCE.read_text(encoding="utf-8") + "\n/* changed */\n", encoding="utf-8")
    monkeypatch.setattr(native, "SOURCE", src)
    assert native._digest() != before


STREETS = [
    None,
    "",
    "北京市朝阳区建国路1号",
    "上海市浦东新区世纪大道100号",
    "广东省深圳市龙华区龙华路953号",
    "中山路东路3号",
    "路",
    "a路",
    "ab路",
    "市ab路",
    "省市区县镇乡路",
    "一二三四五六七八九路",
    "一二三四五六七八九十街十一巷",
    "黑龙江省齐齐哈尔市龙沙区龙华路953号30栋1805房",
    "某某村1组",
    "长安街\n大道",
    "x" * 600 + "建设路1号",
    "A座B道",
    "一二大三",
    "道路道路道路道路道路",
]

_STREET_ALPHABET = st.sampled_from(list("省市区县镇乡路街道巷弄一二ab1 \n·") + ["大道", "中山"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), st.lists(_STREET_ALPHABET, max_size=16).map("".join)), max_size=30))
def test_street_key_equals_the_regular_expression(con, generated):
    from custos.checks.catalogue import street

    values = STREETS + generated
    got = con.execute(
        f"SELECT custos_street(a) IS NOT DISTINCT FROM {street('a')}, a, custos_street(a), {street('a')} "
        "FROM (SELECT unnest(?::VARCHAR[]) AS a)",
        [values],
    ).fetchall()
    assert [r[1:] for r in got if not r[0]] == []


def test_the_compiler_substitutes_the_street_key_only_with_native():
    from custos.checks.catalogue import CheckSettings
    from custos.checks.engine.compiler import compile_parts

    native_ad04 = dict(compile_parts(CheckSettings(), native=True))["AD04"]
    sql_ad04 = dict(compile_parts(CheckSettings()))["AD04"]
    assert "custos_street(a)" in native_ad04 and "regexp_extract" not in native_ad04
    assert (
        "custos_contains_any(a, '邮政|邮局|营业所|营业部|支行|网点|支局')" in native_ad04
    )  # a chain over lines
    assert "contains(" not in native_ad04
    assert "NOT EXISTS" not in native_ad04 and "NOT EXISTS (SELECT 1 FROM stf" in sql_ad04  # Spark keeps it
    assert "custos_street" not in sql_ad04 and "regexp_extract" in sql_ad04


def _rule_fragments() -> list[str]:
    """Every expression native_sql substitutes, over a column ``v``."""
    from custos.checks.catalogue import OUTLET_WORDS, POLITE_SUFFIXES, RUNS, RURAL, VAGUE_ENDINGS, repeated
    from custos.checks.engine.compiler import _REGEX_FUNCTIONS
    from custos.checks.engine.prepare import _lit, contains_any, ends_any

    return [
        repeated("v"),
        contains_any("v", RUNS),
        contains_any("v", RURAL),
        contains_any("v", ("234567", "765432")),
        contains_any("v", OUTLET_WORDS),
        ends_any("v", VAGUE_ENDINGS),
        ends_any("v", POLITE_SUFFIXES),
        *(f"regexp_matches(v, {_lit(regex)})" for regex in _REGEX_FUNCTIONS),
        "regexp_replace(v, '[^0-9]', '', 'g')",
    ]


RULE_VALUES = [
    None, "", "a", "aa", "aaa", "ab", "张", "张张", "张张张", "张三", "·", "张·三", "张··三", "·张", "张·",
    "阿依古丽·买买提", "Zhang San", "Zhang  San", "Zhang·San", "zhang", "Zhang ", "张San", "1", "11", "111",
    "13800000000", "13812345678", "19876543210", "01012345678", "031112345678", "0311123456789", "02012345678",
    "00012345678", "100000", "1000000", "10000a", "１００００", "a@example.com", "a@b.c", "a@b.cn", "a@b..cn",
    "a@-.cn", "@b.cn", "a@b", "a@cn", "010123456789", "020123456789", "a.b@c-d.e.fg", "a+b%c@x.y1", "a@x.y1z", "a@@x.cn", "A@x.cn", "a@x.CN",
    "北京市朝阳区建国路1号", "北京市朝阳区建国路", "某某村", "嘎查", "附近", "学校对面", "王先生", "先生", "王小姐姐",
    "二楼", "十号", "零", "九", "路", "x" * 300 + "村", "010-1234 5678", "１２3", "(0755)8888", "9" * 300 + "-1", "12:30", "/0"
]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.lists(
                st.sampled_from(
                    list("aZ0139·. @-_%+x张三村路先生零九") + ["234567", "765432", "12345678", ".cn", "@b"]
                ),
                max_size=12,
            ).map("".join),
        ),
        max_size=30,
    )
)
def test_rule_expressions_equal_their_native_functions(con, generated):
    from custos.checks.engine.compiler import native_sql

    values = RULE_VALUES + generated
    for sql in _rule_fragments():
        fast = native_sql(sql)
        assert fast != sql and "custos_" in fast, sql
        got = con.execute(
            f"SELECT v, {sql}, {fast} FROM (SELECT unnest(?::VARCHAR[]) AS v)", [values]
        ).fetchall()
        assert [r for r in got if r[1] is not r[2] and r[1] != r[2]] == [], sql


def test_an_empty_word_is_contained_everywhere(con):
    """contains(v, '') and ends_with(v, '') are true: so are the native functions' empty words."""
    got = con.execute(
        "SELECT custos_contains_any('x', 'a|'), custos_ends_any('x', '|a'), contains('x', ''), ends_with('x', ''),"
        " custos_contains_any('x', 'a|b'), custos_contains_any(NULL, 'a')"
    ).fetchone()
    assert got == (True, True, True, True, False, None)


# --- custos_rules: the single-row rules' bits in C ---------------------------------------------------

PARTY_COLUMNS = ("role", "id_type", "gender", "birth_date", "id_valid_until", *COLUMNS)
RULE_ROWS = {
    "role": ["applicant", "insured", "beneficiary", "policy", None],
    "id_type": ["resident_id", "household_register", "passport", "hk_macau_permit", "taiwan_permit",
                "hmt_residence_permit", "foreign_permanent_id", "birth_certificate", "other", None],
    "gender": ["M", "F", None, "X", "MM"],
    "birth_date": [None, "1949-12-31", "1980-01-01", "2010-06-30", "2024-02-29", "2024-03-02", "1900-01-01",
                   "1903-02-28", "1903-03-02", "1904-03-01", "2006-03-01", "2006-03-02", "0001-01-01"],
    "id_valid_until": [None, "2024-02-29", "2024-03-01", "2030-01-01"],
    "name": ["张三", "张张", "张张张", "xX*", "x", "王先生", "王小姐姐", "先生先", "李", "阿依古丽·买买提", "阿依古丽买买提尔", "Zhang San",
             "不详", "张•三", None, "Ｘ", "㐀先生", "aa", "A·B·C·D·E·F·G·H", "欧阳小小明明", "欧阳小小明明明"],
    "id_no": ["11010519491231002X", "110105194912310021", "110105491231002", "110105491231002X", "999999199001011234",
              "000000000000000000", "111111111111111111", "110105123456780001", "110105987654321000",
              "110105199002301234", "110118199002291234", "110105200002291234", "810000199001011234",
              "830000199001011231", "910000", "9100001", "H12345678", "M1234567890", "12345678", "ABC123456789012",
              "E12345678", "E123456789", "A12345", "a12345", "111111111111111", "123456789012345", None,
              "110105202612010018", "110105189912310014", "110105201006300011", "110105201007010011", "810001199001011234", "840000199001011234", "912345678901234",
              "110105190002290011", "110105190002280011",
              # a run of eight at every position of the 17 digits (ID08's ten windows), each direction
              *(("31010519900101123"[:k] + run + "31010519900101123"[k + 8:] + "1")[:18]
                for k in range(10) for run in ("23456789", "87654321")), "310151199001011235", "11010519900101123"],
    "mobile": ["13800138000", "13912345678", "14012345678", "13888888888", "13800000000", "12345678901",
               "+8613800138000", "1380013800a", "2380013800", "1349123456", "13491234567", "13800000", None,
               "98765432100", "1１", "13800000001", "13810000000", "19876543001", "10123456701"],
    "phone": ["01012345678", "031112345678", "07551234567", "0101234567", "02112345678", "9101", None,
              "0533-40580201", "0000000000"],
    "address": ["北京市朝阳区建国路1号", "北京市朝阳区建国路", "某某村", "附近", "学校对面", "不详", "嘎查", "张张张", "二楼",
                "北京", None, "上海市浦东新区张杨路500号", "内蒙古呼和浩特市新华大街一号",
                "浙江省杭州市千岛湖景区大酒店", "北京市朝阳区建国门外大街0号楼", "内蒙古锡林郭勒盟阿巴嘎旗某嘎查",
                "上海市浦东新区张杨路9号", "9"],
    "postcode": ["100000", "200000", "010000", "1", "abcdef", None, "10000０"],
    "email": ["a@example.com", "a@b", ".a@b.cn", "a.@b.cn", "a..b@c.cn", "A@Example.COM", None, "a@b.c1"],
}  # fmt: skip


def _rule_masks(con, rows: list[dict], settings) -> list[tuple]:
    """(party, SQL mask, custos_rules mask) for every row whose masks differ."""
    from custos.checks.engine.compiler import _mask, _native_mask, single_rules

    con.execute(
        "CREATE OR REPLACE TABLE policies AS SELECT * FROM (VALUES ('P1', DATE '2024-03-01'), "
        "('P2', NULL::DATE), ('P3', DATE '1910-01-01')) t(policy_no, applied_on)"
    )
    con.execute(
        "CREATE OR REPLACE TABLE parties AS SELECT v.policy_no, v.role, i AS seq, NULL::VARCHAR AS relation, "
        "v.gender, CAST(v.birth_date AS DATE) AS birth_date, v.id_type, "
        "CAST(v.id_valid_until AS DATE) AS id_valid_until, "
        + ", ".join(f"v.{c}" for c in COLUMNS)
        + " FROM (SELECT unnest(range(len(?))) AS i, unnest(?::STRUCT("
        + ", ".join(f"{c} VARCHAR" for c in ("policy_no", *PARTY_COLUMNS))
        + ")[]) AS v)",
        [rows, rows],
    )
    rules = single_rules(settings)
    sql, fast = _mask(rules), _native_mask(rules, settings)
    assert "custos_rules(" in fast and "custos_rules(" not in sql
    return con.execute(
        f"SELECT * FROM (SELECT seq, {sql} AS a, {fast} AS b FROM ({parties_full(native=False)}) pt) "
        "WHERE a IS DISTINCT FROM b ORDER BY seq"
    ).fetchall()


def _varied_rows() -> list[dict]:
    """Every value of every column, the other columns cycling through theirs; then each party value on
    an applicant, every ID type with every ID number, and every birth date with every policy's
    application date."""
    values = {"policy_no": ["P1", "P2", "P3"], **RULE_ROWS}
    rows = []
    for c, vs in values.items():
        for j, v in enumerate(vs):
            for shift in range(4):
                row = {o: ws[(j * 7 + m * 3 + shift) % len(ws)] for m, (o, ws) in enumerate(values.items())}
                rows.append({**row, c: v})
    base = {"policy_no": "P1", **{c: RULE_ROWS[c][0] for c in PARTY_COLUMNS}}
    rows += [{**base, c: v} for c in COLUMNS for v in RULE_ROWS[c]]  # each value on an applicant
    rows += [{**base, "id_type": t, "id_no": v} for t in RULE_ROWS["id_type"] for v in RULE_ROWS["id_no"]]
    rows += [
        {**base, "policy_no": p, "role": r, "birth_date": b}
        for p in ("P1", "P2", "P3")
        for r in ("applicant", "insured")
        for b in RULE_ROWS["birth_date"]
    ]
    return rows


def test_every_single_row_rule_has_its_twin_in_c():
    """Each single-row rule of the catalogue is evaluated by custos_rules, pinned to the SQL its twin
    was written against: editing a rule's SQL fails here until its twin is checked and re-pinned."""
    from custos.checks.catalogue import CATALOGUE, CheckSettings
    from custos.checks.engine.compiler import RULE_TWINS, TWIN_PARAMS, rule_fingerprint, rule_params, twinned

    rules = {(c.code, r.field) for c in CATALOGUE if c.single_row for r in c.sql}
    assert set(RULE_TWINS) == rules
    for code, field in sorted(rules):
        assert rule_fingerprint(code, field) == RULE_TWINS[code, field], (code, field)
        assert twinned(code, field, CheckSettings()) is not None, (code, field)
    # every parameter the rules read is one custos_rules takes
    assert {p for code, field in rules for p in rule_params(code, field)} == TWIN_PARAMS


def test_rule_bits_equal_the_sql_over_varied_rows(con):
    from custos.checks.catalogue import CheckSettings

    rows = _varied_rows()
    assert len(rows) > 500
    assert _rule_masks(con, rows, CheckSettings()) == []
    other = CheckSettings(
        params={
            "BD03": {"min_age": 20},
            "PH03": {"tail_zeros": 4},
            "AD03": {"min_len": 12},
            "NM04": {"max_len": 4},
        },
        as_of=__import__("datetime").date(2010, 6, 30),
    )
    assert _rule_masks(con, rows, other) == []
    # the rows exercise the rules: most bits are set somewhere
    from custos.checks.engine.compiler import _native_mask, single_rules

    rules = single_rules(CheckSettings())
    seen = con.execute(
        f"SELECT bit_or({_native_mask(rules, CheckSettings())}) FROM ({parties_full(native=False)}) pt"
    ).fetchone()[0]
    assert seen == (1 << len(rules)) - 1, [r.field for i, (_, r) in enumerate(rules) if not seen >> i & 1]


_ID_CHARS = st.sampled_from(
    list("0123456789X") + ["19", "2345678", "76543210", "000", "8", "9", "H", "ABC", "x", "张"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "policy_no": st.sampled_from(["P1", "P2", "P3"]),
                **{c: st.sampled_from(RULE_ROWS[c]) for c in PARTY_COLUMNS},
                "id_no": st.one_of(st.none(), st.lists(_ID_CHARS, max_size=20).map("".join)),
                "mobile": st.one_of(st.none(), st.lists(_ID_CHARS, max_size=12).map("".join)),
                "name": _VALUE,
                "address": _VALUE,
                "email": _VALUE,
            }
        ),
        min_size=1,
        max_size=40,
    )
)
def test_rule_bits_equal_the_sql_over_generated_rows(con, rows):
    from custos.checks.catalogue import CheckSettings

    assert _rule_masks(con, rows, CheckSettings()) == []


def test_an_edited_rule_runs_as_sql(monkeypatch):
    """A rule whose SQL no longer matches its twin's pin, or whose parameter the C code does not take,
    is evaluated by its SQL; the other rules stay in C."""
    from custos.checks.catalogue import CheckSettings
    from custos.checks.engine import compiler

    rules = compiler.single_rules(CheckSettings())
    bit = next(i for i, (code, _) in enumerate(rules) if code == "ID03")
    monkeypatch.setitem(compiler.RULE_TWINS, ("ID03", "id_no"), "0000000000000000")
    mask = compiler._native_mask(rules, CheckSettings())
    assert f"THEN CAST({1 << bit} AS BIGINT)" in mask and "ID03.id_no" not in mask and "ID04.id_no" in mask
    tail = CheckSettings(params={"PH03": {"tail_zeros": 0}})
    mask = compiler._native_mask(compiler.single_rules(tail), tail)
    assert "PH03.mobile" not in mask and "right(mobile_n, 0)" in mask


def test_a_malformed_rule_list_is_an_error(con):
    import duckdb

    args = ", ".join(["NULL"] * 26)
    for spec in ("XX01.name=0", "ID04.id_no=1", "ID01.id_no=63", "ID01.id_no=x"):
        with pytest.raises(duckdb.Error, match="custos_rules: malformed rule list"):
            con.execute(f"SELECT custos_rules('{spec}', {args})").fetchall()
    assert con.execute(f"SELECT custos_rules('ID01.id_no=5', {args})").fetchone() == (0,)


def test_two_twins_never_share_a_parameter_name_with_different_values(monkeypatch):
    """The rule list carries one value per parameter name: a second twin wanting another value for
    the same name runs as SQL."""
    from custos.checks.catalogue import CheckSettings
    from custos.checks.engine import compiler

    rules = compiler.single_rules(CheckSettings())
    values = {"AD03": 8, "PH03": 7}
    monkeypatch.setattr(compiler, "_twin_params", lambda code, names, settings: {"n": values.get(code, 0)})
    mask = compiler._native_mask(rules, CheckSettings())
    assert "n=0" in mask and "AD03.address" not in mask and "PH03.mobile" not in mask and "ID01.id_no" in mask
