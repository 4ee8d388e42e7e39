"""The load harness of `custos bench api` / `screen` (custos.bench.http) and the audit padding of the
bench: wrk really sends the rotating requests (paths, bodies, headers with quotes), answers are counted
by status class, and synthetic audit entries hash and verify like real ones."""

import json
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from custos.audit import service
from custos.bench.api import pad_audit_log
from custos.bench.http import Request, lua_script, run_wrk
from tests.conftest import require


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append((self.command, self.path, body, self.headers.get("X-Token")))
        status = 404 if self.path.startswith("/missing") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # wrk hangs up mid-answer when its time is up


@pytest.fixture
def recorder():
    _Recorder.seen = []
    server = _QuietServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def test_wrk_rotates_through_the_requests_and_counts_answers(recorder):
    require(shutil.which("wrk") is not None, "wrk is not installed (apt-get install wrk)")
    url, seen = recorder
    reqs = [
        Request("/a?x=1"),
        Request(
            "/b",
            "POST",
            json.dumps({"id_no": "11010119900101123X", "q": 'it\'s "quoted"'}),
            {"X-Token": "t'1\"", "Content-Type": "application/json"},
        ),
        Request("/missing"),
    ]
    figures = run_wrk(url, reqs, seconds=1, connections=2, threads=1)
    assert figures["requests"] >= 3 and figures["errors"] == 0
    assert figures["ok"] + figures["non_2xx"] == figures["requests"]
    assert figures["statuses"]["4xx"] == figures["non_2xx"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert {("GET", "/a?x=1", "", None), ("GET", "/missing", "", None)} <= set(seen)
    posted = {s for s in seen if s[0] == "POST"}
    assert posted == {("POST", "/b", reqs[1].body, "t'1\"")}
    # the three requests come in turn: counts differ by at most the connections' offsets
    counts = [sum(1 for s in seen if s[1] == r.path) for r in reqs]
    assert max(counts) - min(counts) <= 2


def test_lua_script_needs_requests():
    with pytest.raises(ValueError):
        lua_script([])


@pytest.mark.django_db
def test_padding_entries_hash_and_verify_like_real_ones(custos_home):
    service.append(username="real", action="detail", model="party", record_ids=[1])
    assert pad_audit_log(60, batch=25) == 59
    assert pad_audit_log(60) == 0
    service.checkpoint()
    result = service.verify()
    assert result.ok and result.entries == 60 and result.verified_size == 60
