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
]


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
    from custos.checks.catalogue import RUNS, RURAL, VAGUE_ENDS, repeated
    from custos.checks.engine.compiler import _REGEX_FUNCTIONS
    from custos.checks.engine.prepare import _lit, contains_any, ends_any

    return [
        repeated("v"),
        contains_any("v", RUNS),
        contains_any("v", RURAL),
        contains_any("v", ("234567", "765432")),
        ends_any("v", VAGUE_ENDS),
        ends_any("v", ("先生", "女士", "小姐")),
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
