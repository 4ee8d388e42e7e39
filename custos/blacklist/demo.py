"""The demo's blacklist step (called from custos/web/demo_tour.py as `demo_blacklist(say, book_dir)`):
an association and a member in one demo.

The association is a second custos: its own CUSTOS_HOME (`<CUSTOS_HOME>/association`, its own SQLite
database and keyring), served by `custos serve` on a free loopback port for the length of the step.
It lists one of the demo book's staff (the first of truth/blacklist_association.csv when the book
carries it) and two people who are not in the book; the demo custos is a member that checks every
staff member over HTTP by private set intersection: one hit, stored as a local hit that SC03 reads.
Idempotent: a second run reuses the association and reports the hit again."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from custos.domain import ids

OUTSIDERS = ("11010519800501031", "44010619900101123")  # 17 digits; the check digit is added


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env.update(CUSTOS_HOME=str(home), CUSTOS_BLACKLIST_ROLE="association")
    return env


def _custos(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "custos.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"association: custos {args[0]}: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout


def _listed_person(book_dir: Path | None) -> tuple[str, str] | None:
    """(ID number, name) of the staff member the association lists."""
    from custos.blacklist.services.files import normalise_id
    from custos.book.models import Staff

    truth = Path(book_dir) / "truth" / "blacklist_association.csv" if book_dir else None
    if truth is not None and truth.exists():
        with truth.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                number, _ = normalise_id(row["id_no"])
                if number:
                    return number, row["name"]
    for s in Staff.objects.filter(gone_load__isnull=True, position="agent").order_by("staff_no")[:200]:
        number, _ = normalise_id(s.id_no)
        if number:
            return number, s.name
    return None


def _prepare(home: Path, book_dir: Path | None, say) -> str | None:
    """Initialise the association once; returns the member's token (kept in the association's home)."""
    token_file = home / "demo-member-token"
    if token_file.exists():
        return token_file.read_text().strip()
    person = _listed_person(book_dir)
    if person is None:
        say("blacklist: the book has no staff member with a valid ID number to list")
        return None
    home.mkdir(parents=True, exist_ok=True)
    env = _env(home)
    _custos(env, "init", "--password", "association-admin-2013")
    out = _custos(
        {**env, "CUSTOS_USER_PASSWORD": "demo-member-2013"},
        "createuser",
        "demo-member",
        "--role",
        "member",
        "--token",
    )
    token = re.search(r"(ct_[\w-]+)", out).group(1)
    listing = home / "list.csv"
    with listing.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id_no", "name", "company", "reason", "dismissed_on"])
        w.writerow([person[0], person[1], "示例人寿保险股份有限公司", "倒卖客户信息", "2025-06-30"])
        for i, body in enumerate(OUTSIDERS):
            w.writerow(
                [
                    body + ids.check_digit(body),
                    f"演示人员{i + 1}",
                    "某财产保险公司",
                    "泄露客户信息",
                    "2024-12-31",
                ]
            )
    try:
        _custos(env, "blacklist", "add", str(listing))
    finally:
        listing.unlink()  # the association's input file: the list lives sealed in its database only
    token_file.write_text(token)
    token_file.chmod(0o600)
    return token


def _serve(home: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "custos.cli",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--no-jobs",
        ],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=2):  # noqa: S310 - loopback
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError("association: custos serve did not answer") from None
            time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def demo_blacklist(say: Callable[[str], None], book_dir: Path | None = None) -> None:
    from django.test import override_settings

    from custos import paths
    from custos.blacklist.models import Hit
    from custos.blacklist.services import member
    from custos.book.models import Policy

    home = paths.home() / "association"
    try:
        token = _prepare(home, book_dir, say)
        if token is None:
            return
        proc, url = _serve(home)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        say(f"blacklist: the demo association could not start: {exc}")
        return
    try:
        with override_settings(
            CUSTOS_BLACKLIST_ROLE="member", CUSTOS_BLACKLIST_URL=url, CUSTOS_BLACKLIST_TOKEN=token
        ):
            member._setups.clear()
            summary = member.check_staff(everyone=True)
            member.refresh_snapshot()
    finally:
        _stop(proc)
    if summary.error:
        say(f"blacklist: the association at {url} answered: {summary.error}")
        return
    hits = list(Hit.objects.filter(active=True).order_by("staff_no"))
    sold = Policy.objects.filter(agent_no__in=[h.staff_no for h in hits], gone_load__isnull=True).count()
    say(
        f"blacklist: association ({home}) served at {url}; {summary.checked} staff checked by private set "
        f"intersection, {len(hits)} on the industry list ({', '.join(h.staff_no for h in hits) or 'none'}), "
        f"{sold} policies they sold flagged by SC03 at the next check; the association saw only the count"
    )
