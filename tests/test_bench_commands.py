"""Benchmarks that read the configured database say what to run first when it has no schema or no
book, in one line with a non-zero status, instead of a traceback."""

import os
import subprocess
import sys

CUSTOS = os.path.join(os.path.dirname(sys.executable), "custos")


def _run(home, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_HOME"] = str(home)
    return subprocess.run(
        [CUSTOS, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
    )


def test_bench_on_an_empty_database_says_what_to_run_first(tmp_path):
    home = tmp_path / "home"
    for bench in ("api", "screen"):
        done = _run(home, "bench", bench, "--seconds", "1")
        assert done.returncode != 0
        assert "custos init" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr

    assert _run(home, "migrate", "-v0").returncode == 0
    for bench in ("api", "screen"):
        done = _run(home, "bench", bench, "--seconds", "1")
        assert done.returncode != 0
        assert "custos load" in done.stderr and "Traceback" not in done.stderr
