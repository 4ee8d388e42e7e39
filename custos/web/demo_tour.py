"""The demo's walk through every capability after the book is loaded and checked.

Each step uses the same services the pages, API and commands use (no shortcuts around the access
service, the state machine or the audit log), so the demo shows what a user would see: a task worked
from contact to verified correction, an approved and fingerprinted extraction, three applications
screened online, and the audit log checkpointed and verified. Every step is idempotent: running
``custos demo`` again reports what is there instead of doing it twice.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from django.contrib.auth import get_user_model

from custos.paths import home as paths_home

Say = Callable[[str], None]
DEMO_REQUEST_NO = "DEMO-REQ-0001"
DEMO_MOBILE = "13912340000"
DEMO_SCREEN_CLIENT = "demo-bank-system"


def _user(role: str):
    return get_user_model().objects.get(username=f"demo_{role}")


def _task_alone_on_its_policy(tasks):
    """The first task whose findings are all the policy's open missing or false ones: correcting it
    releases the policy's commission (the commission step shows that)."""
    from custos.checks.models import Finding
    from custos.commission.services import HOLDING

    for task in tasks:
        others = Finding.objects.filter(
            policy_no=task.policy_no, status=Finding.Status.OPEN, category__in=HOLDING
        ).exclude(pk__in=task.links.values("finding_id"))
        if not others.exists():
            return task
    return tasks[0] if tasks else None


def remediation(say: Say) -> None:
    from custos.remediation import services
    from custos.remediation.models import Correction, Task

    broken = {k: v for k, v in services.invariants().items() if v}
    open_tasks = Task.objects.exclude(status=Task.Status.CLOSED).count()
    say(
        f"remediation: {open_tasks:,} open tasks, one per party with open findings "
        + (f"— INVARIANTS BROKEN: {broken}" if broken else "(no finding without a task, no party with two)")
    )
    services.assign_tasks()
    if Correction.objects.filter(request_no=DEMO_REQUEST_NO).exists():
        say("remediation: the demo correction exists already")
        return
    clerk, reviewer = _user("customer_service"), _user("compliance")
    task = _task_alone_on_its_policy(
        Task.objects.filter(
            status=Task.Status.OPEN, links__finding__check_code="PH01", links__finding__field="mobile"
        ).order_by("pk")[:500]
    )
    if task is None:
        say("remediation: no open task with a missing mobile to walk through")
        return
    services.record_attempt(
        task, clerk, "letter", "(address on file)", "sent", note="demo: letter asking to confirm"
    )
    task.refresh_from_db()
    services.record_attempt(task, clerk, "phone", DEMO_MOBILE, "reached", note="demo: customer gave a mobile")
    task.refresh_from_db()
    correction = services.propose_correction(
        task, clerk, "mobile", DEMO_MOBILE, request_no=DEMO_REQUEST_NO, note="demo: customer's own request"
    )
    correction = services.review_correction(correction, reviewer, approve=True, note="demo: four eyes")
    task.refresh_from_db()
    task = services.verify_task(task, clerk, contact=DEMO_MOBILE, success=True, note="demo: return visit")
    say(
        f"remediation: task #{task.pk} ({task.policy_no} {task.role}/{task.seq}): letter, phone call, "
        f"correction proposed by {clerk.username}, approved by {reviewer.username}, verified by a return "
        f"visit → {task.status}; `custos corrections export OUT` sends it to the core system"
    )


def extraction(say: Say) -> None:
    from custos.extraction import services
    from custos.extraction.models import Extraction

    purpose = "演示：续期回访名单"
    if Extraction.objects.filter(purpose=purpose).exists():
        say("extraction: the demo extraction exists already")
        return
    requester, approver = _user("compliance"), _user("executive")
    ext = services.request_extraction(
        requester,
        purpose=purpose,
        scope={"channel": "bancassurance"} if _few("bancassurance") else {"channel": "agency"},
        fields=["name", "mobile"],
        justification="演示：回访需要客户手机号，仅限本次回访使用，用后删除。",
        recipient_user=_user("customer_service"),
        file_format="xlsx",
    )
    services.approve(ext, approver, note="demo", enqueue=False)
    ext = services.generate(ext.pk)
    say(
        f"extraction #{ext.pk}: requested by {requester.username}, approved by {approver.username}, "
        f"file generated with its canaries and fingerprint ({ext.state}); one download, then it expires"
    )


def _few(channel: str) -> bool:
    from custos.book.models import Policy
    from custos.extraction import conf

    return 0 < Policy.objects.filter(channel=channel).count() * 3 <= conf.max_rows()


def screening(say: Say, book_dir: Path) -> None:
    from custos.book.models import BookLoad
    from custos.screening.context import build_from_snapshot
    from custos.screening.models import Client
    from custos.screening.service import screen

    load = (
        BookLoad.objects.filter(status=BookLoad.Status.DONE).exclude(snapshot_path="").order_by("-pk").first()
    )
    if load is None:
        say("screening: no loaded book to screen against")
        return
    build_from_snapshot(Path(load.snapshot_path), load_id=load.pk)
    client = Client.objects.filter(name=DEMO_SCREEN_CLIENT).first()
    if client is None:
        client, _secret = Client.issue(DEMO_SCREEN_CLIENT)
    policy, parties, agent_mobile = _sample_application(book_dir)
    if policy is None:
        say("screening: the demo book has no agency policy with an applicant to copy")
        return
    variants = {
        "clean": {},
        "agent's phone as the applicant's": {"mobile": agent_mobile},
        "ID number with a wrong check digit": {"id_no": _break_check_digit(parties[0]["id_no"])},
    }
    for i, (label, change) in enumerate(variants.items(), start=1):
        app_parties = [dict(p) for p in parties]
        app_parties[0].update(change)
        doc = {
            "application_id": f"DEMO-APP-{i}",
            "policy": {**policy, "policy_no": f"DEMO-APP-{i}"},
            "parties": [{**p, "policy_no": f"DEMO-APP-{i}"} for p in app_parties],
        }
        result = screen(client, doc)
        codes = ", ".join(f["code"] for f in result.answer.get("findings", [])) or "no findings"
        say(f"screening DEMO-APP-{i} ({label}): {result.answer.get('verdict', result.status)} — {codes}")


def _sample_application(book_dir: Path):
    def rows(name):
        with open(book_dir / f"{name}.csv", encoding="utf-8-sig", newline="") as f:
            yield from csv.DictReader(f)

    from custos.checks.models import Finding

    def clean(policy_no: str) -> bool:  # the batch run found nothing on it: the "clean" variant passes
        return not Finding.objects.filter(policy_no=policy_no).exists()

    policy = next(
        (
            p
            for p in rows("policies")
            if p.get("channel") in ("agency", "个险") and p.get("agent_no") and clean(p["policy_no"])
        ),
        None,
    )
    if policy is None:
        return None, [], ""
    parties = [p for p in rows("parties") if p["policy_no"] == policy["policy_no"]]
    parties.sort(key=lambda p: (p.get("role") not in ("applicant", "投保人"), p.get("seq", "")))
    agent = next((s for s in rows("staff") if s["staff_no"] == policy["agent_no"]), {})
    keep = {k: v for k, v in policy.items() if v not in ("", None)}
    return (
        keep,
        [{k: v for k, v in p.items() if v not in ("", None)} for p in parties],
        agent.get("mobile", ""),
    )


def _break_check_digit(id_no: str) -> str:
    if len(id_no) != 18:
        return id_no[:-1] + "0"
    last = id_no[-1]
    return id_no[:-1] + ("0" if last != "0" else "1")


def commission(say: Say) -> None:
    """The month of the demo correction's policy settled: its commission held while the mobile was
    missing; the correction goes back to the core system, the next (delta) book carries it, the
    check closes the finding and an adjustment run releases the commission."""
    from custos.book.models import Party, Policy
    from custos.book.services import load_book
    from custos.checks.models import Finding
    from custos.checks.services import run_check
    from custos.commission import services
    from custos.commission.models import SettlementRun
    from custos.remediation.models import Correction

    correction = Correction.objects.filter(request_no=DEMO_REQUEST_NO).select_related("task").first()
    if correction is None:
        say("commission: no demo correction to follow")
        return
    task = correction.task
    policy = Policy.objects.get(policy_no=task.policy_no)
    month = policy.issued_on.strftime("%Y-%m")
    if SettlementRun.objects.filter(month=month).exists():
        say(f"commission: {month} settled already (custos commission run --month {month})")
        return
    finance = _user("finance")
    first = services.settle(month, by="demo")
    services.approve(first, finance)
    held = sum(s.held for s in first.statements.all())
    deducted = sum(s.deducted for s in first.statements.all())
    party = Party.objects.get(policy_no=task.policy_no, role=task.role, seq=task.seq)
    delta = paths_home() / "demo-next-book"
    delta.mkdir(exist_ok=True)
    from custos.domain.bookformat import TABLES

    cols = TABLES["parties"].column_names
    with open(delta / "parties.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerow(["" if getattr(party, c) is None else str(getattr(party, c)) for c in cols])
    load = load_book(delta, mode="delta", source_name="demo-next-book")
    (delta / "parties.csv").unlink()  # customer data: not left on disk
    run_check(load=load)
    still = Finding.objects.filter(
        policy_no=task.policy_no, status=Finding.Status.OPEN, category__in=services.HOLDING
    ).count()
    second = services.settle(month, by="demo")
    released = sum(s.released for s in second.statements.all()) if second else 0
    # the months the demo agent's and outlet's policies fell due in (the latest three each), so that
    # their own statements page has something to show
    from custos.access.models import Profile

    months = set()
    for profile in Profile.objects.filter(user__username__in=["demo_agent", "demo_partner_staff"]):
        mine = Policy.objects.filter(gone_load__isnull=True, issued_on__isnull=False)
        mine = (
            mine.filter(partner_code=profile.partner_code)
            if profile.partner_code
            else mine.filter(agent_no=profile.staff_no)
        )
        latest = sorted({d.strftime("%Y-%m") for d in mine.values_list("issued_on", flat=True)})[-3:]
        months |= set(latest)
    others_held = others_due = 0
    for other in sorted(months - {month}):
        run = services.settle(other, by="demo")
        if run is not None:
            others_held += sum(s.held for s in run.statements.all())
            others_due += sum(s.due for s in run.statements.all())
    say(
        f"commission: {month} settled and approved by {finance.username} — {services.yuan(held)} yuan held and "
        f"{services.yuan(deducted)} yuan already paid deducted on policies with missing or false information; "
        f"the demo correction came back in the next book "
        f"({still} holding findings left on {task.policy_no}) and adjustment run #{second.seq if second else '-'} "
        f"releases {services.yuan(released)} yuan, awaiting approval on /commission/; "
        f"{len(months - {month})} later month(s) of the demo agent and outlet prepared: "
        f"{services.yuan(others_due)} yuan due, {services.yuan(others_held)} yuan of it held"
    )


def audit(say: Say) -> None:
    from custos.audit import service

    service.checkpoint()
    r = service.verify()
    state = "intact" if not r.problems else f"PROBLEMS: {r.problems[:3]}"
    say(
        f"audit log: checkpoint signed; {r.entries:,} entries under {r.checkpoints} checkpoint(s) verified: {state}"
    )


def partnership(say: Say) -> None:
    from custos.partnership.demo import demo_partnership

    demo_partnership(say)


def discipline(say: Say) -> None:
    from custos.discipline.demo import demo_discipline

    demo_discipline(say)


def blacklist(say: Say, book_dir: Path) -> None:
    from custos.blacklist.demo import demo_blacklist

    demo_blacklist(say, book_dir)


def identity(say: Say) -> None:
    """Every party of the book linked into persons (Splink), and the cross-channel checks (XC01–XC03)
    that the persons make possible."""
    from custos.audit.record import acting_cli
    from custos.checks.services import run_check
    from custos.identity.models import LinkRun
    from custos.identity.services.link import run_link

    if LinkRun.objects.exists():
        say("identity: linked already (custos link)")
        return
    with acting_cli("custos demo"):
        run = run_link(None, engine="duckdb")
    check = run_check(run.load)
    xc = {k: v for k, v in sorted(check.by_check.items()) if k.startswith("XC")}
    say(
        f"identity: {run.records:,} parties linked into {run.persons:,} persons with lasting ids "
        f"({run.review_pairs} pairs for review); cross-channel findings {xc or 'none'}; "
        f"`custos persons export OUT.csv`"
    )


def identity_person(say: Say) -> None:
    """A person with a cross-channel conflict and a proposed fill (XC02): their page, and the task
    whose page offers the fill by reference."""
    from custos.checks.models import Finding
    from custos.identity.models import PersonRecord
    from custos.remediation.models import TaskFinding

    chosen = None
    for f in (
        Finding.objects.filter(check_code="XC02", status="open").exclude(proposed="").order_by("id")[:300]
    ):
        rec = PersonRecord.objects.filter(policy_no=f.policy_no, role=f.role, seq=f.seq).first()
        if rec is None:
            continue
        policies = PersonRecord.objects.filter(person_id=rec.person_id).values("policy_no")
        chosen = chosen or (rec.person.pid, f)
        if Finding.objects.filter(
            check_code__in=("XC01", "XC03"), status="open", policy_no__in=policies
        ).exists():
            chosen = (rec.person.pid, f)  # a conflict besides the fill: the better example
            break
    if chosen is None:
        say("identity: no person with a proposed fill in this book")
        return
    person, f = chosen
    link = TaskFinding.objects.filter(finding=f).first()
    task = f"; its task /remediation/tasks/{link.task_id}/ offers 「采用建议值」" if link else ""
    say(f"identity: person /persons/{person}/ — conflicts highlighted, XC02 proposes the {f.field} "
        f"of {f.policy_no}/{f.role} from another channel (masked){task}")  # fmt: skip


def watch(say: Say) -> None:
    """A month of the core systems' query logs for 300 of the demo book's staff, with insiders
    harvesting in several styles, ingested into the access history; the alerts they raise."""
    import io
    import json

    from django.core.management import call_command

    logs = paths_home() / "demo-access-logs"
    alerts_file = paths_home() / "demo-output" / "watch-alerts.json"
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    quiet = io.StringIO()
    if not (logs / "truth.json").exists():
        call_command("watch", "simulate", "--days", "30", "--staff", "300", "--seed", "1", "--out", str(logs),
                     stdout=quiet)  # fmt: skip
    call_command("watch", "ingest", *sorted(str(f) for f in logs.glob("*.csv")), stdout=quiet)
    call_command("watch", "alerts", "--json", str(alerts_file), stdout=quiet)
    alerts = json.loads(alerts_file.read_text(encoding="utf-8"))["alerts"]
    insiders = {
        i["staff_no"] for i in json.loads((logs / "truth.json").read_text(encoding="utf-8"))["insiders"]
    }
    caught = insiders & {a["staff_no"] for a in alerts}
    top = max(alerts, key=lambda a: a["score"], default=None)
    fired = ", ".join(sig["name"] for sig in top["signals"]) if top else "-"
    say(
        f"watch: 30 days of simulated query logs ingested; {len(alerts)} alert(s), {len(caught)} of "
        f"{len(insiders)} planted insiders among them; the strongest: {top['staff_no'] if top else '-'} on "
        f"{top['day'] if top else '-'} ({fired}) — on /security/watch/ (demo_it_security, demo_compliance)"
    )


def watch_trace(say: Say) -> None:
    """A customer list found outside the company: the applicants of the policies the planted bulk
    harvester read, partly masked as such lists are, mixed with rows of people custos does not know;
    traced back to its source (custos trace) as IT security would."""
    import csv
    import json
    import random

    from custos.book.models import Party
    from custos.watch import store
    from custos.watch.tracing.models import LeakCase
    from custos.watch.tracing.service import trace_file

    name = "demo-leaked-list.csv"
    case = LeakCase.objects.filter(source_name=name).first()
    if case is None:
        truth = json.loads((paths_home() / "demo-access-logs" / "truth.json").read_text(encoding="utf-8"))
        insider = next((i for i in truth["insiders"] if i["style"] == "bulk"), None)
        if insider is None:
            say("watch: no bulk harvester planted in the simulated logs; no leak to trace")
            return
        days = ", ".join(f"DATE '{d}'" for d in insider["days"])
        read = (
            store.read_arrow(
                "SELECT DISTINCT policy_no FROM {history} WHERE staff_no = '%s' AND day IN (%s)"
                " AND coalesce(policy_no, '') <> ''" % (insider["staff_no"], days)
            )
            .column("policy_no")
            .to_pylist()
        )
        rng = random.Random(7)
        rows = []
        for party in Party.objects.filter(policy_no__in=read, role="applicant").order_by("policy_no"):
            mobile, id_no = party.mobile or "", party.id_no or ""
            if rng.random() < 0.3 and len(mobile) == 11:  # pasted from a masked screen
                mobile = mobile[:3] + "****" + mobile[7:]
            if rng.random() < 0.2 and len(id_no) == 18:
                id_no = id_no[:6] + "********" + id_no[14:]
            rows.append([party.name, mobile, id_no])
        rows += [[f"路人{n}", f"139{rng.randrange(10**8):08d}", ""] for n in range(len(rows) // 10)]
        rng.shuffle(rows)
        path = paths_home() / "demo-output" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="gb18030") as f:
            csv.writer(f).writerows([["客户姓名", "手机号", "身份证号"], *rows])
        try:
            case = trace_file(path, user=_user("it_security"), note="demo: found on a file-sharing site")
        finally:
            path.unlink(missing_ok=True)  # the list holds customers' data in clear
        planted = insider["staff_no"]
    else:
        planted = None
    top = case.top
    who = f"{top['kind']} {top['id']} (score {top['score']:.2f})" if top else "nobody"
    verdict = "" if planted is None else (" — the planted harvester" if top and top["id"] == planted else
                                          f" — the planted harvester was {planted}")  # fmt: skip
    say(
        f"watch: leaked list traced: {case.rows:,} rows, {case.matched:,} matched to customers; top suspect "
        f"{who}{verdict} — /security/watch/trace/{case.pk}/ (demo_it_security, demo_compliance)"
    )


def report(say: Say) -> None:
    from custos.report.demo import demo_report

    demo_report(say)


def run(say: Say, book_dir: Path) -> None:
    """Every step, in the order a user would meet them."""
    for step in (remediation, commission, partnership, discipline, extraction):
        step(say)
    screening(say, book_dir)
    identity(say)
    identity_person(say)
    blacklist(say, book_dir)
    watch(say)
    watch_trace(say)
    report(say)
    audit(say)
