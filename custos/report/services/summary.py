"""The regulator's work summary (清查工作总结) as of a date: what counts is defined in docs/report.md.

    s = build(date(2026, 12, 31))                      # the whole book (the command)
    s = build(as_of, policies=ctx.policies())          # a viewer's scope (the page)

Aggregates only, never a customer: counts, rates and yuan. Everything is computed in a few grouped
queries plus one pass over the untrue findings (a few per cent of the book), so a 1 M-policy book
costs seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from custos.book import labels
from custos.book.models import BookLoad, Branch, Policy
from custos.checks.models import CheckRun, Finding
from custos.domain import codes
from custos.report.services import charts, sections
from custos.report.services.tables import Column, Table, ratio

CHANNELS = tuple(
    codes.CHANNEL
)  # bancassurance 银保, agency 个险, group 团险, internet 网销, telesales 电销, broker 中介
UNTRUE = ("missing", "false")
PERIODS = ("auto", "week", "month")
MAX_POINTS = 60


class ReportError(Exception):
    """The summary cannot be made as asked; str() is a one-line reason."""


@dataclass
class Basis:
    as_of: dt.date
    until: dt.datetime  # the start of the day after as_of (local time): what happened before it counts
    load: BookLoad | None  # the book as of the date: the latest load done before `until`
    run: CheckRun | None  # the latest check run done before `until`


@dataclass
class Summary:
    basis: Basis
    figures: dict
    tables: list[Table]
    scope_label: str
    generated_at: dt.datetime = field(default_factory=timezone.now)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except (AttributeError, ValueError) as exc:
        raise ReportError(f"as-of date {text!r} is not a date like 2026-12-31") from exc


def basis(as_of: dt.date) -> Basis:
    until = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    done_before = Q(finished_at__lt=until) | Q(finished_at__isnull=True, created_at__lt=until)
    load = BookLoad.objects.filter(done_before, status=BookLoad.Status.DONE).order_by("-id").first()
    run = (
        CheckRun.objects.filter(status=CheckRun.Status.DONE, finished_at__lt=until)
        .select_related("load")
        .order_by("-id")
        .first()
    )
    return Basis(as_of, until, load, run)


def in_book(qs: QuerySet, load_id: int | None) -> QuerySet:
    """Rows of the book as load `load_id` left it: brought by it or earlier, not gone by it."""
    if load_id is None:
        return qs.none()
    return qs.filter(first_load_id__lte=load_id).filter(
        Q(gone_load__isnull=True) | Q(gone_load_id__gt=load_id)
    )


def in_scope(qs: QuerySet, as_of: dt.date) -> QuerySet:
    """In force and a term over one year (term_years 0 is whole life), issued by the date."""
    return (
        qs.filter(status="in_force")
        .filter(Q(term_years=0) | Q(term_years__gt=1))
        .exclude(issued_on__gt=as_of)
    )


# --- the figures -------------------------------------------------------------------------------------


def _policy_flags(findings: QuerySet, until: dt.datetime) -> dict[str, dict]:
    """policy_no -> {missing, false, outstanding, times: [(opened, closed or None)]} of the policies with
    an untrue finding opened before `until` (closed means closed before `until`)."""
    out: dict[str, dict] = {}
    rows = findings.filter(category__in=UNTRUE).values_list("policy_no", "category", "opened_at", "closed_at")
    for policy_no, category, opened, closed in rows.iterator(chunk_size=5000):
        if closed is not None and closed >= until:
            closed = None
        f = out.setdefault(policy_no, {"missing": False, "false": False, "outstanding": False, "times": []})
        f[category] = True
        f["outstanding"] = f["outstanding"] or closed is None
        f["times"].append((opened, closed))
    return out


def _blank() -> dict:
    return dict.fromkeys(("in_scope", "checked", "untrue", "missing", "false", "corrected", "outstanding"), 0)


def _tally(groups: dict, key: str, flags: dict) -> None:
    g = groups.setdefault(key, _blank())
    g["untrue"] += 1
    g["missing"] += flags["missing"]
    g["false"] += flags["false"]
    g["outstanding"] += flags["outstanding"]
    g["corrected"] += not flags["outstanding"]


def build(
    as_of: dt.date | None = None,
    *,
    policies: QuerySet | None = None,
    branch_root: str | None = None,
    period: str = "auto",
    scope_label: str = "",
) -> Summary:
    """The summary as of a date (default today) over `policies` (default the whole book)."""
    if period not in PERIODS:
        raise ReportError(f"period {period!r}: choose one of {', '.join(PERIODS)}")
    as_of = as_of or timezone.localdate()
    b = basis(as_of)
    base = policies if policies is not None else Policy.objects.all()
    scoped = in_scope(in_book(base, b.load.pk if b.load else None), as_of)
    checked = scoped.filter(first_load_id__lte=b.run.load_id) if b.run else scoped.none()
    findings = Finding.objects.filter(policy_no__in=checked.values("policy_no"), opened_at__lt=b.until)
    flags = _policy_flags(findings, b.until)

    rollup = _rollup(branch_root)
    by_channel: dict[str, dict] = {}
    by_branch: dict[str, dict] = {}
    for what, qs in (("in_scope", scoped), ("checked", checked)):
        for r in qs.values("channel", "branch_code").annotate(n=Count("id")).order_by():
            by_channel.setdefault(r["channel"], _blank())[what] += r["n"]
            top = rollup.get(r["branch_code"]) or r["branch_code"]
            by_branch.setdefault(top, _blank())[what] += r["n"]
    untrue_rows = checked.filter(policy_no__in=findings.filter(category__in=UNTRUE).values("policy_no"))
    for policy_no, channel, branch in untrue_rows.values_list("policy_no", "channel", "branch_code").iterator(
        chunk_size=5000
    ):
        f = flags.get(policy_no)
        if f is not None:
            _tally(by_channel, channel, f)
            _tally(by_branch, rollup.get(branch) or branch, f)
    total = _blank()
    for g in by_channel.values():
        for k in total:
            total[k] += g[k]

    label = scope_label or _("全部保单")
    tables = [
        _overview(total, b),
        _rates_table("channel", _("分渠道"), _("渠道"), _channel_rows(by_channel), total),
        _rates_table("branch", _("分机构"), _("机构"), _branch_rows(by_branch), total),
        _by_check(findings, b.until),
        _remediation(checked, b),
        _commission(b, None if policies is None else base),
        sections.violations(as_of, policies),
        sections.partners(as_of, policies),
        _progress(flags, b, period),
    ]
    channel = tables[1]
    channel.chart = charts.channel_rates(
        [r[0] for r in channel.rows],
        {
            _("不真实率"): [r[4] for r in channel.rows],
            _("信息缺失率"): [r[6] for r in channel.rows],
            _("信息虚假率"): [r[8] for r in channel.rows],
        },
    )
    figures = {
        **total,
        "untrue_rate": ratio(total["untrue"], total["checked"]),
        "missing_rate": ratio(total["missing"], total["checked"]),
        "false_rate": ratio(total["false"], total["checked"]),
        "corrected_rate": ratio(total["corrected"], total["untrue"]),
    }
    return Summary(b, figures, tables, label)


def _rollup(root: str | None) -> dict[str, str]:
    from custos.checks.services import branch_rollup

    return branch_rollup(root)


# --- the tables --------------------------------------------------------------------------------------


def _overview(t: dict, b: Basis) -> Table:
    rows = [
        [_("纳入清查范围的保单（有效、保险期间一年以上）"), t["in_scope"], None],
        [_("已检查保单"), t["checked"], ratio(t["checked"], t["in_scope"])],
        [_("不真实保单（信息缺失或虚假）"), t["untrue"], ratio(t["untrue"], t["checked"])],
        [_("其中：信息缺失"), t["missing"], ratio(t["missing"], t["checked"])],
        [_("其中：信息虚假"), t["false"], ratio(t["false"], t["checked"])],
        [_("已更正"), t["corrected"], ratio(t["corrected"], t["untrue"])],
        [_("未更正"), t["outstanding"], ratio(t["outstanding"], t["untrue"])],
    ]
    if b.load is None:
        note = _("截至该日尚未加载数据册。")
    elif b.run is None:
        note = _("截至该日尚未运行检查。")
    else:
        note = _(
            "数据册：第 %(load)s 次加载；检查：第 %(run)s 次（%(at)s 完成）。不真实、缺失、虚假率以已检查保单为分母；"
            "已更正、未更正占不真实保单的比例。"
        ) % {
            "load": b.load.pk,
            "run": b.run.pk,
            "at": timezone.localtime(b.run.finished_at).strftime("%Y-%m-%d %H:%M"),
        }
    return Table(
        "overview",
        _("总体情况"),
        [Column(_("项目")), Column(_("保单数"), "int"), Column(_("比率"), "rate")],
        rows,
        note=note,
    )


def _rate_row(name: str, g: dict) -> list:
    return [
        name,
        g["in_scope"],
        g["checked"],
        g["untrue"],
        ratio(g["untrue"], g["checked"]),
        g["missing"],
        ratio(g["missing"], g["checked"]),
        g["false"],
        ratio(g["false"], g["checked"]),
        g["corrected"],
        g["outstanding"],
    ]


def _rates_table(key: str, title: str, first: str, rows: list[tuple[str, dict]], total: dict) -> Table:
    columns = [
        Column(first),
        Column(_("范围内保单"), "int"),
        Column(_("已检查"), "int"),
        Column(_("不真实保单"), "int"),
        Column(_("不真实率"), "rate"),
        Column(_("信息缺失"), "int"),
        Column(_("缺失率"), "rate"),
        Column(_("信息虚假"), "int"),
        Column(_("虚假率"), "rate"),
        Column(_("已更正"), "int"),
        Column(_("未更正"), "int"),
    ]
    return Table(
        key,
        title,
        columns,
        [_rate_row(name, g) for name, g in rows],
        total=_rate_row(_("合计"), total),
    )


def _channel_rows(groups: dict) -> list[tuple[str, dict]]:
    """Every channel of the code list in its order (银保 first, as the 2014 inspection), then any
    other code the book carries."""
    keys = list(CHANNELS) + sorted(k for k in groups if k not in CHANNELS)
    return [
        (str(labels.code_value("channel", k)) if k else _("（无渠道）"), groups.get(k, _blank()))
        for k in keys
    ]


def _branch_rows(groups: dict) -> list[tuple[str, dict]]:
    names = dict(Branch.objects.filter(branch_code__in=list(groups)).values_list("branch_code", "name"))
    return [
        (labels.with_code(names.get(k), k) if k else _("（无机构）"), groups[k])
        for k in sorted(groups, key=str)
    ]


def _message(code: str) -> str:
    from custos.checks.services import explain

    e = explain(code)
    return (e["message_en"] if get_language() == "en" else e["message_zh"]) or ""


def _by_check(findings: QuerySet, until: dt.datetime) -> Table:
    still_open = Q(closed_at__isnull=True) | Q(closed_at__gte=until)
    rows = []
    for r in (
        findings.values("check_code", "category")
        .annotate(
            n=Count("id"), policies=Count("policy_no", distinct=True), open=Count("id", filter=still_open)
        )
        .order_by("check_code", "category")
    ):
        category = (
            str(Finding.Category(r["category"]).label) if r["category"] in Finding.Category else r["category"]
        )
        rows.append(
            [
                r["check_code"],
                category,
                _message(r["check_code"]),
                r["n"],
                r["policies"],
                r["n"] - r["open"],
                r["open"],
            ]
        )
    return Table(
        "check",
        _("分检查项"),
        [
            Column(_("检查项")),
            Column(_("类别")),
            Column(_("说明")),
            Column(_("问题数"), "int"),
            Column(_("涉及保单"), "int"),
            Column(_("已关闭"), "int"),
            Column(_("未关闭"), "int"),
        ],
        rows,
        total=[
            _("合计"),
            "",
            "",
            sum(r[3] for r in rows),
            None,
            sum(r[5] for r in rows),
            sum(r[6] for r in rows),
        ],
        note=_("“疑似不实”类问题提示人工核查，不计入不真实率。"),
    )


def _remediation(checked: QuerySet, b: Basis) -> Table:
    from custos.remediation.models import Correction, Task

    until, as_of = b.until, b.as_of
    tasks = Task.objects.filter(policy_no__in=checked.values("policy_no"), created_at__lt=until)
    closed = Q(closed_at__lt=until)
    t = tasks.aggregate(
        n=Count("id"),
        closed=Count("id", filter=closed),
        overdue=Count("id", filter=~closed & Q(due_on__lt=as_of)),
    )
    corr = Correction.objects.filter(
        policy_no__in=checked.values("policy_no"), proposed_at__lt=until
    ).aggregate(
        n=Count("id"),
        applied=Count("id", filter=Q(applied_at__lt=until)),
        verified=Count("id", filter=Q(verified_at__lt=until)),
        exported=Count("id", filter=Q(exported_at__lt=until)),
    )
    rows = [
        [_("整改任务"), t["n"]],
        [_("其中：已关闭"), t["closed"]],
        [_("其中：未关闭"), t["n"] - t["closed"]],
        [_("其中：已逾期未关闭"), t["overdue"]],
        [_("更正申请"), corr["n"]],
        [_("其中：已更正"), corr["applied"]],
        [_("其中：已回访确认"), corr["verified"]],
        [_("其中：已回传核心系统"), corr["exported"]],
    ]
    return Table("remediation", _("整改情况"), [Column(_("项目")), Column(_("数量"), "int")], rows)


def _commission(b: Basis, policies: QuerySet | None) -> Table:
    from custos.commission.models import Entry, SettlementRun
    from custos.commission.services import yuan

    entries = Entry.objects.filter(
        run__status=SettlementRun.Status.APPROVED,
        run__approved_at__lt=b.until,
        kind__in=(Entry.Kind.HOLD, Entry.Kind.RELEASE, Entry.Kind.DEDUCT),
    )
    if policies is not None:
        entries = entries.filter(policy_no__in=policies.values("policy_no"))
    sums: dict[str, Counter] = defaultdict(Counter)
    for r in entries.values("statement__payee_kind", "kind").annotate(fen=Sum("amount")).order_by():
        sums[r["statement__payee_kind"]][r["kind"]] += r["fen"] or 0
    payees = Counter(
        kind
        for kind, _payee in entries.filter(kind__in=(Entry.Kind.HOLD, Entry.Kind.DEDUCT))
        .values_list("statement__payee_kind", "statement__payee")
        .distinct()
    )
    rows, total = [], Counter()
    for kind in sorted(sums, key=lambda k: (k not in codes.PAYEE_KIND, k)):
        s = sums[kind]
        total.update(s)
        name = {"agent": _("业务员"), "partner": _("合作机构")}.get(kind, kind)
        rows.append(_money_row(name, s, payees[kind], yuan))
    return Table(
        "commission",
        _("佣金暂扣与扣回"),
        [
            Column(_("收款方")),
            Column(_("暂扣（元）"), "money"),
            Column(_("解除暂扣（元）"), "money"),
            Column(_("扣回（元）"), "money"),
            Column(_("暂扣余额（元）"), "money"),
            Column(_("涉及收款方"), "int"),
        ],
        rows,
        total=_money_row(_("合计"), total, sum(payees.values()), yuan),
        note=_(
            "已审批的佣金结算截至该日的合计；暂扣余额 = 暂扣 + 扣回 − 解除暂扣（扣回的佣金在更正前同样暂扣）。"
        ),
    )


def _money_row(name: str, s: Counter, payees: int, yuan) -> list:
    return [
        name,
        yuan(s["hold"]),
        yuan(s["release"]),
        yuan(s["deduct"]),
        yuan(s["hold"] + s["deduct"] - s["release"]),
        payees,
    ]


# --- progress over time ------------------------------------------------------------------------------


def period_ends(first: dt.date, as_of: dt.date, period: str) -> list[dt.date]:
    """The last day of each week (Sunday) or month from `first`'s to `as_of`'s, as_of itself last;
    at most MAX_POINTS (the latest)."""
    if period == "auto":
        period = "week" if (as_of - first).days <= 26 * 7 else "month"
    ends: list[dt.date] = []
    day = first
    while day < as_of:
        if period == "week":
            end = day + dt.timedelta(days=6 - day.weekday())
        else:
            nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            end = nxt - dt.timedelta(days=1)
        if end >= as_of:
            break
        ends.append(end)
        day = end + dt.timedelta(days=1)
    ends.append(as_of)
    return ends[-MAX_POINTS:]


def _progress(flags: dict, b: Basis, period: str) -> Table:
    tz = timezone.get_current_timezone()
    opened = [t[0] for f in flags.values() for t in f["times"]]
    first = min(opened).astimezone(tz).date() if opened else b.as_of
    rows = []
    for end in period_ends(min(first, b.as_of), b.as_of, period):
        at = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
        found = outstanding = 0
        for f in flags.values():
            seen = [(o, c) for o, c in f["times"] if o < at]
            if not seen:
                continue
            found += 1
            outstanding += any(c is None or c >= at for _o, c in seen)
        rows.append(
            [end.isoformat(), found, found - outstanding, outstanding, ratio(found - outstanding, found)]
        )
    table = Table(
        "progress",
        _("整改进度"),
        [
            Column(_("截至")),
            Column(_("累计发现不真实保单"), "int"),
            Column(_("已更正"), "int"),
            Column(_("未更正"), "int"),
            Column(_("更正率"), "rate"),
        ],
        rows,
        note=_(
            "每期期末的累计数：发现 = 截至期末有缺失或虚假问题的保单；已更正 = 其中问题已全部关闭的保单。"
        ),
    )
    table.chart = charts.progress(
        [r[0] for r in rows],
        {
            _("累计发现"): [r[1] for r in rows],
            _("已更正"): [r[2] for r in rows],
            _("未更正"): [r[3] for r in rows],
        },
    )
    return table
