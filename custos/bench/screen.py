"""`custos bench screen --seconds 60 --json OUT`: POST /api/v1/screen under load (gunicorn, 4 sync
workers by default, wrk), against the database of CUSTOS_DATABASE_URL with a loaded book.

1. The context store is built from the book snapshot (`--snapshot DIR`, default the latest load's)
   unless it already holds it (`--rebuild` forces it); its seconds and CPU seconds are reported.
2. Requests: policies of the snapshot (with their parties) sampled at random, each sent once with a
   fresh application id (``bench-<run>-<i>``), so no answer is an idempotent replay.
3. Parity: the batch engine (DuckDB) runs once over the whole snapshot; `--parity-sample` policies
   are screened through the server first and their findings compared with the batch findings of that
   policy: `parity_mismatches` must be 0.
4. A short warm-up (every worker builds its evaluator), then wrk for `--seconds`.

Reported: rps, p50/p90/p99 ms, requests, non-2xx, errors, parity_mismatches, the server's CPU seconds
(gunicorn master + workers) and per screening, wrk's CPU seconds, PostgreSQL's (all its processes)
when it runs on this machine, load averages. Writes only the context store, a bench client, and
its screenings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import secrets
import time
import urllib.request
from pathlib import Path

from custos.bench import register


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pg_cpu(database: str) -> float | None:
    """CPU seconds of the PostgreSQL backends serving `database` on this machine (their process title
    names the database), so other databases' work on a shared server is not counted."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return None
    total, found = 0.0, False
    for p in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(p.info.get("cmdline") or [])
        if p.info["name"] in ("postgres", "postmaster") and f" {database} " in f" {title} ":
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system
            found = True
    return total if found else None


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if v is None:
            continue
        if isinstance(v, dt.datetime):
            v = v.replace(tzinfo=None).isoformat(sep=" ")
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[k] = v
    return out


def sample_policies(snapshot: Path, n: int, seed: int) -> list[dict]:
    """n random policies of the snapshot with their parties: [{"policy": {...}, "parties": [...]}]."""
    from custos.checks.engine import duck
    from custos.checks.engine.snapshot import table_columns

    con = duck.connect(2)
    try:
        duck.register_snapshot(con, snapshot)
        pcols = [c for c, _ in table_columns("policies")]
        qcols = [c for c, _ in table_columns("parties")]
        con.execute(
            f"CREATE TEMP TABLE pick AS SELECT policy_no FROM policies USING SAMPLE reservoir({n} ROWS) REPEATABLE ({seed})"
        )
        policies = {
            r[0]: dict(zip(pcols, r, strict=True))
            for r in con.execute(
                f"SELECT {', '.join('p.' + c for c in pcols)} FROM policies p JOIN pick USING (policy_no)"
            ).fetchall()
        }
        out = {pno: {"policy": _jsonable(p), "parties": []} for pno, p in policies.items()}
        for r in con.execute(
            f"SELECT {', '.join('q.' + c for c in qcols)} FROM parties q JOIN pick USING (policy_no)"
        ).fetchall():
            row = dict(zip(qcols, r, strict=True))
            out[row["policy_no"]]["parties"].append(_jsonable(row))
    finally:
        con.close()
    return [v for k, v in sorted(out.items()) if v["parties"]]


def _post(url: str, secret: str, doc: dict) -> tuple[int, dict]:
    req = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        url,
        data=json.dumps(doc, ensure_ascii=True).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (127.0.0.1)
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read() or b"{}"
        try:
            return exc.code, json.loads(raw)
        except ValueError:  # an error page, not the API's JSON: say what came back
            return exc.code, {"detail": raw[:300].decode("utf-8", "replace")}


@register("screen")
class ScreenBench:
    needs_database = True  # reads the book of CUSTOS_DATABASE_URL (custos bench checks the schema first)

    help = "POST /api/v1/screen under load (gunicorn + wrk) with a parity check against the batch engine"

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument(
            "--connections",
            type=int,
            default=None,
            help="wrk connections (default: one per worker — a sync worker serves one request at a time, "
            "so more connections measure queueing in front of it, not the service)",
        )
        parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
        parser.add_argument("--snapshot", type=Path, help="book snapshot (default: the latest load's)")
        parser.add_argument(
            "--rebuild", action="store_true", help="rebuild the context store even if current"
        )
        parser.add_argument(
            "--parity-sample", type=int, default=300, help="0: no parity check (no batch run)"
        )
        parser.add_argument(
            "--requests", type=int, default=0, help="distinct requests (default 400 × seconds)"
        )
        parser.add_argument("--seed", type=int, default=7)

    def run(self, options: dict, out) -> dict:
        from django.core.management import call_command
        from django.db import connection

        from custos.bench.http import Request, gunicorn_server, run_wrk
        from custos.screening.context import build_from_snapshot
        from custos.screening.models import Client, IndexState

        figures: dict = {
            "benchmark": "screen",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "database": connection.vendor,
            "workers": options["workers"],
            "worker_class": options["worker_class"],
            "connections": options["connections"] or options["workers"],
            "load_avg_1m_before": round(os.getloadavg()[0], 2),
        }
        call_command("migrate", verbosity=0)
        snapshot = options.get("snapshot")
        state = IndexState.objects.first()
        if snapshot is None and state is not None and state.snapshot_path:
            snapshot = Path(state.snapshot_path)  # the book the context store holds
        if snapshot is None:
            from custos.checks.services import CheckError, _resolve_load

            try:
                snapshot = Path(_resolve_load(None).snapshot_path)
            except CheckError as exc:
                raise SystemExit(f"custos bench screen: {exc} (or give --snapshot DIR)")
        snapshot = Path(snapshot).resolve()
        if options["rebuild"] or state is None or state.snapshot_path != str(snapshot):
            out.write(f"building the context store from {snapshot} …")
            c0, t0 = _cpu_self(), time.monotonic()
            state = build_from_snapshot(snapshot)
            figures["index_build_s"] = round(time.monotonic() - t0, 1)
            figures["index_build_cpu_s"] = round(_cpu_self() - c0, 1)
        figures["context_parties"] = state.parties
        figures["context_refs"] = state.refs

        n_requests = options["requests"] or int(400 * options["seconds"])
        parity_n = options["parity_sample"]
        apps = sample_policies(snapshot, n_requests + parity_n, options["seed"])
        parity_apps, load_apps = apps[:parity_n], apps[parity_n:]
        out.write(f"{len(load_apps)} load requests, {len(parity_apps)} parity policies")

        # the batch engine's findings over the whole book, for the parity sample
        import custos.checks.engine  # noqa: F401
        from custos.checks.catalogue import CheckSettings
        from custos.checks.engine import run_checks

        c0, t0 = _cpu_self(), time.monotonic()
        wanted = {a["policy"]["policy_no"] for a in parity_apps}
        expected: dict[str, list] = {p: [] for p in wanted}
        found = run_checks(snapshot, settings=CheckSettings()).to_pylist() if wanted else []
        for r in found:
            if r["policy_no"] in wanted:
                expected[r["policy_no"]].append((r["check"], r["role"], r["seq"], r["field"], r["proposed"]))
        figures["batch_s"] = round(time.monotonic() - t0, 1)
        figures["batch_cpu_s"] = round(_cpu_self() - c0, 1)

        run = secrets.token_hex(3)
        client, secret = Client.issue(f"bench-{run}", rate_per_minute=10_000_000)
        env = {
            "CUSTOS_DATABASE_URL": os.environ.get("CUSTOS_DATABASE_URL", ""),
            "CUSTOS_SCREEN_AUTO_INDEX": "0",
        }
        if os.environ.get("CUSTOS_HOME"):
            env["CUSTOS_HOME"] = os.environ["CUSTOS_HOME"]
        env = {k: v for k, v in env.items() if v}

        def doc(a: dict, app_id: str) -> dict:
            return {"application_id": app_id, "policy": a["policy"], "parties": a["parties"]}

        with gunicorn_server(
            workers=options["workers"], env=env, worker_class=options["worker_class"]
        ) as srv:
            url = srv.url + "/api/v1/screen"
            # warm-up: every worker builds its evaluator
            warm = [
                Request(
                    "/api/v1/screen",
                    "POST",
                    json.dumps(doc(a, f"warm-{run}-{i}"), ensure_ascii=True),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"},
                )
                for i, a in enumerate(load_apps[:400])
            ]
            run_wrk(srv.url, warm, seconds=3, connections=options["connections"] or options["workers"])
            mismatches, details = 0, []
            for i, a in enumerate(parity_apps):
                pno = a["policy"]["policy_no"]
                status, body = _post(url, secret, doc(a, f"parity-{run}-{i}"))
                got = sorted(
                    (f["code"], f["role"], f["seq"], f["field"], f["proposed"])
                    for f in body.get("findings", [])
                )
                if status != 200 or got != sorted(expected[pno]):
                    mismatches += 1
                    if len(details) < 5:
                        details.append(
                            {
                                "policy_no": pno,
                                "status": status,
                                "want": sorted(expected[pno]),
                                "got": got,
                                "detail": body.get("detail") if status != 200 else None,
                            }
                        )
            figures["parity_checked"] = len(parity_apps)
            figures["parity_mismatches"] = mismatches
            if details:
                figures["parity_examples"] = details
            reqs = [
                Request(
                    "/api/v1/screen",
                    "POST",
                    json.dumps(doc(a, f"bench-{run}-{i}"), ensure_ascii=True),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"},
                )
                for i, a in enumerate(load_apps)
            ]
            db = connection.settings_dict.get("NAME") or ""
            cpu0, pg0 = srv.cpu_seconds(), _pg_cpu(db)
            la0 = os.getloadavg()[0]
            w = run_wrk(
                srv.url,
                reqs,
                seconds=options["seconds"],
                connections=options["connections"] or options["workers"],
            )
            server_cpu = srv.cpu_seconds() - cpu0
            pg1 = _pg_cpu(db)
        w.pop("wrk_output", None)
        figures.update(w)
        figures["server_cpu_s"] = round(server_cpu, 1)
        figures["server_cpu_ms_per_request"] = round(1000 * server_cpu / max(1, w["requests"]), 2)
        if pg0 is not None and pg1 is not None:
            figures["postgres_cpu_s"] = round(pg1 - pg0, 1)
            figures["postgres_cpu_ms_per_request"] = round(1000 * (pg1 - pg0) / max(1, w["requests"]), 2)
        figures["replays_possible"] = w["requests"] > len(reqs)
        figures["load_avg_1m_during"] = round((la0 + os.getloadavg()[0]) / 2, 2)
        figures["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        from custos.screening.models import Screening

        verdicts = {}
        for v in Screening.objects.filter(client=client).values_list("verdict", flat=True).iterator():
            verdicts[v] = verdicts.get(v, 0) + 1
        figures["verdicts"] = verdicts
        Client.objects.filter(pk=client.pk).update(active=False)
        out.write(
            f"{w['rps']} screenings/s, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms, {w['requests']} requests, "
            f"{w['non_2xx']} non-2xx; parity mismatches {mismatches}/{len(parity_apps)}; "
            f"server CPU {figures['server_cpu_ms_per_request']} ms/request"
        )
        return figures
