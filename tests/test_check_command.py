"""`custos check` and `custos findings export`: output, exit status, CSV columns and formula neutralisation."""

import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys

import pytest
from django.core.management import call_command

from custos.audit.models import AuditEntry
from custos.checks.models import Finding
from custos.checks.services import neutralise
from tests.test_findings_support import findings_table, install_fakes, make_book, make_load

ROWS = [
    ("ID03", "P1", "applicant", 1, "id_no", "440106199001011235"),
    ("ID01", "P2", "insured", 1, "id_no", ""),
    ("PH02", "P3", "applicant", 1, "mobile", "1381234567"),
    ("PH06", "P4", "applicant", 1, "mobile", "13800000000"),
]


@pytest.fixture
def book(db, tmp_path):
    load = make_load(tmp_path)
    make_book(load)
    return load


def run_cli(*argv):
    """Run a command the way `custos` does (run_from_argv), returning (exit status, stdout, stderr)."""
    from django.core.management import load_command_class

    out, err = io.StringIO(), io.StringIO()
    cmd = load_command_class("custos.checks", argv[0])
    cmd.stdout._out, cmd.stderr._out = out, err
    try:
        cmd.run_from_argv(["custos", *argv])
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _keep_connection(monkeypatch):
    # run_from_argv closes every connection when it ends; the test's transaction must survive it.
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)


def test_check_prints_progress_lines_and_a_category_by_channel_summary(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table(ROWS)])
    status, out, err = run_cli("check")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].strip() == "0% checking" and "100% done" in out
    assert "opened 4, kept 0, closed 0, open 4" in out
    assert "agency" in out and "bancassurance" in out
    cells = {
        parts[0]: parts[1:]
        for line in lines
        if (parts := [c.strip() for c in line.strip("│ ").split("│")])[0]
        in ("missing", "false", "suspicious", "total")
    }
    assert cells == {
        "missing": ["0", "1", "1"],
        "false": ["1", "1", "2"],
        "suspicious": ["1", "0", "1"],
        "total": ["2", "2", "4"],
    }
    assert "untrue rate 75.00% (missing 25.00%, false 50.00%)" in out


def test_check_without_a_load_exits_1_with_one_line(db, monkeypatch):
    install_fakes(monkeypatch, [])
    status, out, err = run_cli("check")
    assert status == 1
    assert err.strip().splitlines() == [
        "CommandError: no book has been loaded yet: run `custos load PATH` first"
    ]


def test_check_of_an_unknown_load_exits_1(book, monkeypatch):
    install_fakes(monkeypatch, [])
    status, _, err = run_cli("check", "--load", "999")
    assert status == 1 and "load #999 does not exist" in err


def test_engine_and_master_are_passed_on(book, monkeypatch):
    calls = install_fakes(monkeypatch, [findings_table([])])
    status, out, err = run_cli("check", "--engine", "spark", "--master", "local[1]", "--load", str(book.pk))
    assert status == 0, err
    assert calls[0]["engine"] == "spark"


def test_disabled_checks_keep_their_findings_open(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table(ROWS), findings_table(ROWS[:1])])
    assert run_cli("check")[0] == 0
    status, out, err = run_cli("check", "--disable", "ph02,PH06")
    assert status == 0, err
    assert "opened 0, kept 1, closed 1, open 3" in out  # ID01 closed; PH02, PH06 untouched
    assert set(Finding.objects.filter(status="open").values_list("check_code", flat=True)) == {
        "ID03",
        "PH02",
        "PH06",
    }
    status, _, err = run_cli("check", "--disable", "ZZ01")
    assert status == 1 and "unknown check code(s): ZZ01" in err


def test_real_check_settings_switch_checks_off():
    from custos.checks.services import catalogue, default_settings, enabled_codes

    settings = default_settings()
    codes = [c.code for c in catalogue()]
    assert enabled_codes(settings) == codes
    settings.enabled = frozenset(settings.enabled) - {"PH02"}
    assert "PH02" not in enabled_codes(settings) and len(enabled_codes(settings)) == len(codes) - 1


def test_system_checks_are_still_reachable(db):
    out = io.StringIO()
    call_command("check", "--system", stdout=out)
    assert "no issues" in out.getvalue()
    call_command("check", databases=["default"], stdout=io.StringIO())  # as Django's test runner calls it


def test_export_has_exactly_the_columns_and_neutralises_formulas(book, monkeypatch, tmp_path):
    rows = [
        *ROWS,
        ("PH02", "=HYPERLINK(1)", "applicant", 1, "mobile", "x"),
        ("PH02", "@SUM", "insured", 1, "mobile", "x"),
    ]
    install_fakes(monkeypatch, [findings_table(rows), findings_table(rows[1:])])
    call_command("check", stdout=io.StringIO())
    call_command("check", stdout=io.StringIO())  # closes the ID03 finding
    out = tmp_path / "f.csv"
    status, stdout, err = run_cli("findings", "export", str(out))
    assert status == 0, err
    data = out.read_bytes().decode("utf-8")
    records = list(csv.reader(io.StringIO(data)))
    assert records[0] == ["check", "policy_no", "role", "seq", "field", "category", "severity", "status"]
    assert len(records) == 1 + 5 and all(r[-1] == "open" for r in records[1:])
    assert ["PH02", "'=HYPERLINK(1)", "applicant", "1", "mobile", "false", "high", "open"] in records
    assert ["PH02", "'@SUM", "insured", "1", "mobile", "false", "high", "open"] in records
    assert "6 findings" not in stdout and "5 findings (open)" in stdout
    run_cli("findings", "export", str(out), "--status", "closed")
    closed = list(csv.reader(out.open(encoding="utf-8")))
    assert [r[0] for r in closed[1:]] == ["ID03"] and closed[1][-1] == "closed"
    run_cli("findings", "export", str(out), "--status", "all")
    assert len(list(csv.reader(out.open(encoding="utf-8")))) == 1 + Finding.objects.count() == 7
    assert AuditEntry.objects.filter(action="export", model="finding").count() == 3


def test_export_to_an_unwritable_path_exits_1(book, tmp_path):
    status, _, err = run_cli("findings", "export", str(tmp_path / "no" / "such" / "dir.csv"))
    assert status == 1 and err.startswith("CommandError: cannot write")


@pytest.mark.parametrize(
    "cell,expected",
    [
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("P1", "P1"),
        ("", ""),
        (3, "3"),
        (None, ""),
    ],
)
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_the_custos_command_exits_1_without_a_load(tmp_path):
    """The real executable, on a fresh SQLite home: one line on stderr, status 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_HOME"] = str(tmp_path / "home")
    custos = os.path.join(os.path.dirname(sys.executable), "custos")
    subprocess.run([custos, "migrate", "-v", "0"], env=env, check=True, capture_output=True)
    proc = subprocess.run([custos, "check"], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "CommandError: no book has been loaded yet: run `custos load PATH` first"
    ]


def test_an_unexpected_failure_is_one_line_and_status_1(tmp_path):
    """A failure that is not a CommandError (here: a snapshot directory that does not exist, which
    DuckDB reports over several lines) still ends as one line on stderr and status 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_HOME"] = str(tmp_path / "home")
    custos = os.path.join(os.path.dirname(sys.executable), "custos")
    missing = tmp_path / "no-such-snapshot"
    proc = subprocess.run(
        [custos, "bench", "check", "--snapshot", str(missing), "--baseline-sample", "10"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("custos: ") and "Traceback" not in proc.stderr


def test_bench_check_json_has_the_issues_figures_and_medians_of_repeated_runs(tmp_path):
    """`custos bench check --repeat 2`: engine and baseline alternate; the reported figures are the
    medians of the runs, which are kept in the JSON (the VM's speed drifts between runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_HOME"] = str(tmp_path / "home")
    env["CUSTOS_AUTO_KEYS"] = "1"
    custos = os.path.join(os.path.dirname(sys.executable), "custos")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [custos, "bench", "check", "--parties", "1500", "--base-policies", "300"]
        + ["--baseline-sample", "200", "--repeat", "2", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(out.read_text())
    for key in ("parties", "seconds", "parties_per_s", "baseline_parties_per_s", "ratio", "peak_rss_mb"):
        assert figures[key] > 0, key
    assert figures["engine"] == "duckdb" and figures["parties"] >= 1500
    # with a C compiler the engine runs with its compiled functions, and the JSON says so
    assert figures["native"] is (shutil.which("cc") is not None)
    runs = figures["runs"]
    assert (
        len(runs) == 2 and {r["findings"] for r in runs} == {figures["findings"]} and figures["findings"] > 0
    )
    assert figures["ratio"] == round(statistics.median(r["ratio"] for r in runs), 1)
    assert figures["ratio_min"] <= figures["ratio"] <= figures["ratio_max"]
    assert figures["seconds"] == round(statistics.median(r["seconds"] for r in runs), 3)
    assert figures["date"].endswith("+00:00")
    # the SQL alone is measured beside the native run, with the same findings
    if figures["native"]:
        sql = figures["sql_only"]
        assert sql["findings"] == figures["findings"] and sql["parties_per_s"] > 0
        assert figures["native_speedup"] == round(sql["seconds"] / figures["seconds"], 2)
        assert "SQL alone" in proc.stdout
