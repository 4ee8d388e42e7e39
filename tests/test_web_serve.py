"""custos serve: gunicorn and the Huey consumer start together and both stop on SIGTERM."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_web_and_jobs_and_stops_on_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_HOME"] = str(tmp_path / "var")
    init = subprocess.run(
        [sys.executable, "-m", "custos.cli", "init", "--password", "admin-password-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "custos.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                    assert r.status == 200 and "登录" in r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "custos serve did not answer"
                time.sleep(0.5)
        children = psutil.Process(proc.pid).children(recursive=False)
        commands = [" ".join(c.cmdline()) for c in children]
        assert any("gunicorn" in c for c in commands) and any("run_huey" in c for c in commands), commands

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_prepares_everything_and_is_idempotent(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_HOME"] = str(tmp_path / "var")

    def demo():
        return subprocess.run(
            [sys.executable, "-m", "custos.cli", "demo", "--no-serve", "--policies", "300"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    first = demo()
    assert first.returncode == 0, first.stderr[-2000:]
    assert "policies 300" in first.stdout
    for role in ("compliance", "agent", "partner_staff", "auditor"):
        assert f"demo_{role} / demo-{role.replace('_', '-')}-2013" in first.stdout
    assert "http://127.0.0.1:8000/" in first.stdout
    assert re.search(r"check run #\d+: [\d,]+ findings opened", first.stdout), first.stdout
    # the walk-through: every capability exercised through its services
    assert "(no finding without a task, no party with two)" in first.stdout, first.stdout
    assert re.search(
        r"extraction #\d+: requested by demo_compliance, approved by demo_executive", first.stdout
    )
    assert "(clean): pass" in first.stdout, first.stdout
    assert re.search(r"\(agent's phone as the applicant's\): reject — .*PH05", first.stdout), first.stdout
    assert re.search(r"\(ID number with a wrong check digit\): reject — .*ID03", first.stdout), first.stdout
    assert re.search(r"audit log: checkpoint signed; [\d,]+ entries .* verified: intact", first.stdout)
    # a leaked list of what the planted harvester read is traced back to them
    assert re.search(
        r"leaked list traced: [\d,]+ rows, [1-9][\d,]* matched .* — the planted harvester —", first.stdout
    ), first.stdout
    second = demo()
    assert second.returncode == 0, second.stderr[-2000:]
    assert "(exists)" in second.stdout and "book: already loaded" in second.stdout
    assert "check: already run on this book" in second.stdout
    assert "the demo extraction exists already" in second.stdout
