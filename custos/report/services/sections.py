"""Sections that read other apps: violations and fines (custos.discipline) and partners recommended
for termination (custos.partnership).

Each is a provider, a function `provider(as_of: date, policies: QuerySet | None) -> dict` returning
{"columns": [(label, kind), …], "rows": [[…], …], "total": […] or None, "note": "…"} with the kinds
of custos/report/services/tables.py (text, int, money as Decimal yuan, rate as a fraction);
`policies` is the viewer's scope, None for the whole book. The defaults below read the apps' models;
settings.CUSTOS_REPORT_SECTIONS (section → "module:function") puts another provider in their place.
While the app is not installed, or its models or the provider cannot be imported, the section is an
empty table with a note saying so: the report never fails for a part that is still being built.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.report.services.tables import Column, Table, from_provider

ZERO = Decimal("0.00")
# section → (the app it reads, the default provider)
PROVIDERS = {
    "violations": ("custos.discipline", "custos.report.services.sections:violations_section"),
    "partners": ("custos.partnership", "custos.report.services.sections:partners_section"),
}


def _until(as_of: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))


def _provider(section: str):
    app, default = PROVIDERS[section]
    path = getattr(settings, "CUSTOS_REPORT_SECTIONS", {}).get(section, default)
    if not apps.is_installed(app):
        return None, _("%(app)s 尚未安装。") % {"app": app}
    module, _sep, name = path.partition(":")
    try:
        fn = getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return None, _("%(app)s 尚未提供本节数据（%(path)s）。") % {"app": app, "path": path}
    return fn, ""


def section(key: str, title: str, placeholder: list[Column], as_of: dt.date, policies) -> Table:
    fn, why = _provider(key)
    if fn is not None:
        try:
            return from_provider(key, title, fn(as_of, policies))
        except ImportError as exc:  # the app is installed, its models are not there yet
            why = _("%(app)s 尚未提供本节数据（%(path)s）。") % {"app": PROVIDERS[key][0], "path": exc}
    return Table(key, title, placeholder, note=_("本节暂无数据：") + why)


# --- violations and fines --------------------------------------------------------------------------


def _violation_columns() -> list[tuple[str, str]]:
    return [
        (_("违规类型"), "text"),
        (_("立案"), "int"),
        (_("违规成立"), "int"),
        (_("违规不成立"), "int"),
        (_("待决定"), "int"),
        (_("解除合同"), "int"),
        (_("罚款（元）"), "money"),
        (_("其中：主管连带（元）"), "money"),
        (_("已缴纳（元）"), "money"),
    ]


def violations_section(as_of: dt.date, policies) -> dict:
    """Cases proposed by the date by kind: upheld or not as decided by then, still pending, staff
    dismissed; fines of the upheld cases (offender and supervisor), and those paid by then. A viewer
    with a scope sees the cases of the staff of the branches their policies are in."""
    from custos.discipline.models import Violation

    until = _until(as_of)
    qs = Violation.objects.filter(proposed_at__lt=until)
    if policies is not None:
        from custos.book.models import Staff

        qs = qs.filter(
            staff_no__in=Staff.objects.filter(branch_code__in=policies.values("branch_code")).values(
                "staff_no"
            )
        )
    acc: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0, 0, ZERO, ZERO, ZERO])
    for kind, outcome, decided_at, dismissed, fine, joint, status, closed_at in qs.values_list(
        "kind",
        "outcome",
        "decided_at",
        "dismissed",
        "offender_fine",
        "supervisor_fine",
        "status",
        "closed_at",
    ):
        a = acc[kind]
        a[0] += 1
        decided = decided_at is not None and decided_at < until
        upheld = decided and outcome == Violation.Outcome.UPHELD
        a[1] += upheld
        a[2] += decided and not upheld
        a[3] += not decided
        a[4] += upheld and dismissed
        if upheld:  # Decimals as the database gave them, summed here: exact on SQLite too
            total = (fine or ZERO) + (joint or ZERO)
            a[5] += total
            a[6] += joint or ZERO
            if status == Violation.Status.PAID and closed_at is not None and closed_at < until:
                a[7] += total
    kinds = [k for k in Violation.Kind.values if k in acc] + sorted(
        k for k in acc if k not in Violation.Kind.values
    )
    rows = [[str(Violation.Kind(k).label) if k in Violation.Kind.values else k, *acc[k]] for k in kinds]
    total = [
        _("合计"),
        *(sum(r[i] for r in rows) for i in range(1, 6)),
        *(sum((r[i] for r in rows), ZERO) for i in range(6, 9)),
    ]
    return {
        "columns": _violation_columns(),
        "rows": rows,
        "total": total,
        "note": _("截至该日立案的违规案件；罚款为截至该日决定成立的案件的罚款（含直接主管的连带罚款）。"),
    }


# --- partners recommended for termination ---------------------------------------------------------


def _partner_columns() -> list[tuple[str, str]]:
    return [
        (_("合作机构"), "text"),
        (_("轮次"), "int"),
        (_("整改期限"), "text"),
        (_("涉及保单"), "int"),
        (_("未关闭问题"), "int"),
        (_("暂扣（元）"), "money"),
        (_("扣回（元）"), "money"),
        (_("截至该日的决定"), "text"),
    ]


def partners_section(as_of: dt.date, policies) -> dict:
    """Recommendations to end a partner's agency made by the date, with their figures and compliance's
    decision as of the date (pending until decided)."""
    from custos.book import labels
    from custos.partnership.models import Recommendation

    until = _until(as_of)
    qs = Recommendation.objects.filter(created_at__lt=until)
    if policies is not None:
        qs = qs.filter(partner_code__in=policies.values("partner_code"))
    rows = []
    for r in qs.order_by("partner_code", "round"):
        decided = r.decided_at is not None and r.decided_at < until and r.decision
        rows.append(
            [
                labels.org_label("partner", r.partner_code),
                r.round,
                r.deadline.isoformat(),
                r.policies,
                r.open_findings,
                (Decimal(r.held_fen) / 100).quantize(ZERO),
                (Decimal(r.deducted_fen) / 100).quantize(ZERO),
                str(Recommendation.Decision(r.decision).label) if decided else _("待决定"),
            ]
        )
    terminated = sum(1 for r in rows if r[7] == str(Recommendation.Decision.TERMINATE.label))
    return {
        "columns": _partner_columns(),
        "rows": rows,
        "total": [
            _("合计"),
            None,
            "",
            sum(r[3] for r in rows),
            sum(r[4] for r in rows),
            sum((r[5] for r in rows), ZERO),
            sum((r[6] for r in rows), ZERO),
            _("决定终止 %(n)s 家") % {"n": terminated},
        ],
        "note": _("逾期未整改或拒不配合的合作机构，截至该日提出的终止合作建议及合规的决定。"),
    }


def violations(as_of: dt.date, policies) -> Table:
    return section(
        "violations",
        _("违规处理与罚款"),
        [Column(label, kind) for label, kind in _violation_columns()],
        as_of,
        policies,
    )


def partners(as_of: dt.date, policies) -> Table:
    return section(
        "partners",
        _("建议终止合作的机构"),
        [Column(label, kind) for label, kind in _partner_columns()],
        as_of,
        policies,
    )
