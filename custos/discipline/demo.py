"""The demo's discipline step (called from custos/web/demo_tour.py): proposals from the demo book's
facts, then one case walked through notice, the agent's appeal and compliance's decision with a fine.
Idempotent: a second run proposes nothing new and reports the decided case."""

from __future__ import annotations

from collections.abc import Callable

DEMO_REASON = "演示：回访证实客户手机号是业务员本人的，申诉理由不成立"


def _pick(agent_staff_no: str):
    """A proposed sales case, preferably the demo agent's (who can then appeal), with a supervisor."""
    from custos.book.models import Staff
    from custos.discipline.models import Violation

    proposed = Violation.objects.filter(status=Violation.Status.PROPOSED).order_by("id")
    supervised = Staff.objects.exclude(supervisor_no="").values("staff_no")
    for qs in (
        proposed.filter(staff_no=agent_staff_no, kind=Violation.Kind.SALES),
        proposed.filter(kind=Violation.Kind.SALES, staff_no__in=supervised),
        proposed,
    ):
        v = qs.first()
        if v is not None:
            return v
    return None


def demo_discipline(say: Callable[[str], None]) -> None:
    from django.contrib.auth import get_user_model

    from custos.access.models import Profile
    from custos.audit.record import acting
    from custos.discipline import services
    from custos.discipline.models import Violation

    with acting(None, client="demo"):
        report = services.propose_from_facts()
    say(f"discipline: {report.line()}")
    done = Violation.objects.filter(decision_reason=DEMO_REASON).first()
    if done is not None:
        say(f"discipline: demo case #{done.pk} decided already ({done.offender_fine} yuan)")
        return
    users = get_user_model().objects
    compliance = users.filter(username="demo_compliance").first()
    if compliance is None:
        say("discipline: no demo_compliance user to decide a case")
        return
    agent = users.filter(username="demo_agent").first()
    agent_no = Profile.objects.filter(user=agent).values_list("staff_no", flat=True).first() if agent else ""
    v = _pick(agent_no or "")
    if v is None:
        say("discipline: no proposal to decide (the book has no SC01, PH05, PH07 or AD04 finding)")
        return
    v = services.notify(v, compliance, "演示：已电话告知当事员工")
    appealed = ""
    if agent is not None and services.is_own(agent, v):
        v = services.appeal(v, agent, "演示：客户当时没有手机，临时留了我的号码，已提醒客户更正。")
        appealed = f", appealed by {agent.username}"
    v = services.decide(v, compliance, upheld=True, reason=DEMO_REASON)
    joint = f" + {v.supervisor_fine} yuan for supervisor {v.supervisor_no}" if v.supervisor_no else ""
    say(
        f"discipline: case #{v.pk} ({v.kind}, staff {v.staff_no}) notified{appealed}, decided by "
        f"{compliance.username}: {v.offender_fine} yuan{joint} (schedule of {v.schedule_from}); "
        f"on /discipline/ and in the fines list of {v.decided_on:%Y-%m}"
    )
