"""HTTP load harness of the benchmarks (`custos bench api`, `custos bench screen`): a gunicorn server
of custos started against a given database and CUSTOS_HOME, and wrk driving it with requests that
differ (a Lua script rotates through a list of paths, bodies and headers).

    from custos.bench.http import Request, gunicorn_server, run_wrk

    with gunicorn_server(workers=4, env={"CUSTOS_DATABASE_URL": url, "CUSTOS_HOME": home}) as srv:
        reqs = [Request(f"/api/v1/customers?policy_no={p}", headers={"Authorization": "Bearer …"})
                for p in policy_numbers]
        figures = run_wrk(srv.url, reqs, seconds=60, connections=8)
        cpu = srv.cpu_seconds()  # gunicorn master + workers, so far

`run_wrk` returns rps, p50_ms, p90_ms, p99_ms, max_ms, requests, non_2xx, errors (connect, read,
write and timeout errors of wrk), a count by status class, the measured duration and wrk's own CPU
seconds. Latency is wrk's (closed loop: each connection sends its next request when the previous
one is answered). Everything runs on 127.0.0.1 only; the server is stopped on leaving the block.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil


class BenchHTTPError(RuntimeError):
    """The server did not start, or wrk is missing or failed."""


@dataclass(frozen=True)
class Request:
    path: str  # with its query string
    method: str = "GET"
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the gunicorn master and its workers (live and reaped)."""
        try:
            master = psutil.Process(self.process.pid)
            procs = [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def gunicorn_server(
    *,
    workers: int = 4,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/api/v1/openapi.json",
    ready_timeout: float = 60.0,
    worker_class: str = "sync",
    threads: int = 1,
    timeout: int = 60,
    extra_args: Sequence[str] = (),
) -> Iterator[Server]:
    """gunicorn serving custos.wsgi on a free 127.0.0.1 port with `workers` workers, with env added to
    this process's environment (CUSTOS_DATABASE_URL, CUSTOS_HOME, …). Waits until ready_path answers
    (any HTTP status), yields the Server, stops it (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    full_env = {**os.environ, **(env or {}), "DJANGO_SETTINGS_MODULE": "custos.settings"}
    full_env.setdefault("CUSTOS_ALLOWED_HOSTS", "127.0.0.1,localhost")
    log_dir = Path(tempfile.mkdtemp(prefix="custos-gunicorn-"))
    log_path = log_dir / "gunicorn.log"
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "custos.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "10",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log_path),
        *extra_args,
    ]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(url=f"http://127.0.0.1:{port}", port=port, process=proc, log_path=log_path)
    try:
        _wait_ready(server, ready_path, ready_timeout)
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(log_dir, ignore_errors=True)


def _wait_ready(server: Server, ready_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchHTTPError(
                f"gunicorn exited with code {server.process.returncode} before it was ready:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + ready_path, timeout=5):  # noqa: S310 (http://127.0.0.1 only)
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise BenchHTTPError(f"gunicorn did not answer {ready_path} within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the master and its workers
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _lua_string(s: str) -> str:
    return "'" + "".join(c if c.isalnum() or c in " /?=&-_.:,;+%@" else f"\\{ord(c):03d}" for c in s) + "'"


def lua_script(requests: Sequence[Request]) -> str:
    """A wrk script sending the requests in turn (each wrk thread from its own offset), counting the
    answers by status class and printing them with the latency percentiles as one JSON line."""
    if not requests:
        raise ValueError("no requests to send")
    entries = []
    for r in requests:
        headers = "{" + ",".join(f"[{_lua_string(k)}]={_lua_string(v)}" for k, v in r.headers.items()) + "}"
        body = "nil" if r.body is None else _lua_string(r.body)
        entries.append(f"  wrk.format({_lua_string(r.method)}, {_lua_string(r.path)}, {headers}, {body}),")
    return (
        "local threads = {}\n"
        "function setup(thread)\n"
        "  table.insert(threads, thread)\n"
        "  thread:set('offset', #threads * 7919)\n"
        "end\n"
        "function init(args)\n"
        "  reqs = {\n" + "\n".join(entries) + "\n  }\n"
        "  i = offset % #reqs\n"
        "  s2, s3, s4, s5 = 0, 0, 0, 0\n"
        "end\n"
        "function request()\n"
        "  i = i % #reqs + 1\n"
        "  return reqs[i]\n"
        "end\n"
        "function response(status, headers, body)\n"
        "  if status < 300 then s2 = s2 + 1 elseif status < 400 then s3 = s3 + 1\n"
        "  elseif status < 500 then s4 = s4 + 1 else s5 = s5 + 1 end\n"
        "end\n"
        "function done(summary, latency, requests)\n"
        "  local c = {0, 0, 0, 0}\n"
        "  for _, t in ipairs(threads) do\n"
        "    c[1] = c[1] + t:get('s2'); c[2] = c[2] + t:get('s3')\n"
        "    c[3] = c[3] + t:get('s4'); c[4] = c[4] + t:get('s5')\n"
        "  end\n"
        "  local e = summary.errors\n"
        '  io.write(string.format(\'CUSTOS_WRK {"requests":%d,"duration_us":%d,"bytes":%d,'
        '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
        '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status_errors":%d,'
        '"s2xx":%d,"s3xx":%d,"s4xx":%d,"s5xx":%d}\\n\',\n'
        "    summary.requests, summary.duration, summary.bytes,\n"
        "    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,\n"
        "    e.connect, e.read, e.write, e.timeout, e.status, c[1], c[2], c[3], c[4]))\n"
        "end\n"
    )


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(
    base_url: str,
    requests: Sequence[Request],
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 2,
    timeout_s: int = 10,
) -> dict:
    """wrk against base_url for `seconds` with `connections` connections, rotating through requests.

    Returns rps, p50_ms, p90_ms, p99_ms, max_ms, mean_ms, requests, non_2xx, errors, statuses,
    duration_s, wrk_cpu_s."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchHTTPError("wrk is not installed (apt-get install wrk)")
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="custos-wrk-", delete=False) as f:
        f.write(lua_script(requests))
        script = f.name
    cpu0 = _children_cpu()
    try:
        proc = subprocess.run(
            [
                wrk,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                f"{timeout_s}s",
                "--latency",
                "-s",
                script,
                base_url.rstrip("/") + "/",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + timeout_s + 60,
        )
    finally:
        os.unlink(script)
    wrk_cpu = _children_cpu() - cpu0
    line = next((x for x in proc.stdout.splitlines() if x.startswith("CUSTOS_WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchHTTPError(
            f"wrk failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}"
        )
    w = json.loads(line.split(" ", 1)[1])
    duration = w["duration_us"] / 1e6
    non_2xx = w["s3xx"] + w["s4xx"] + w["s5xx"]
    return {
        "rps": round(w["requests"] / duration, 1) if duration else 0.0,
        "ok_rps": round(w["s2xx"] / duration, 1) if duration else 0.0,
        "p50_ms": w["p50_us"] / 1000,
        "p90_ms": w["p90_us"] / 1000,
        "p99_ms": w["p99_us"] / 1000,
        "max_ms": w["max_us"] / 1000,
        "mean_ms": round(w["mean_us"] / 1000, 3),
        "requests": w["requests"],
        "ok": w["s2xx"],
        "non_2xx": non_2xx,
        "errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "statuses": {"2xx": w["s2xx"], "3xx": w["s3xx"], "4xx": w["s4xx"], "5xx": w["s5xx"]},
        "duration_s": round(duration, 3),
        "connections": connections,
        "wrk_threads": threads,
        "wrk_cpu_s": round(wrk_cpu, 2),
        "wrk_output": proc.stdout.strip(),
    }
