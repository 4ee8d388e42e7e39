"""Template context of the shell: who is looking (for the header and the screen watermark), the side
menu they get and the page's place in it (the breadcrumbs).

A menu item is offered only when its page would open for this user: the capability table
(custos/access/capabilities.py) names, for every page, the capability that offers it, or declares it
open to everyone signed in; an item may also need capabilities the view itself checks (the team's
tasks need task.assign)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.access import capabilities
from custos.access.capabilities import capabilities_of
from custos.access.models import Profile


@dataclass(frozen=True)
class Item:
    label: object
    url_name: str
    also: tuple[str, ...] = ()  # other URL names (or "app:" namespaces) under this item
    needs: tuple[str, ...] = ()  # capabilities the view checks beyond the table's page entry
    badge: str = ""  # a context key holding a count


@dataclass(frozen=True)
class Group:
    label: object
    items: tuple[Item, ...] = field(default_factory=tuple)


MENU = (
    Group(
        _("工作台"),
        (
            Item(_("数据册"), "home", also=("upload", "load", "load-error-report")),
            Item(_("问题看板"), "findings-dashboard", also=("findings-list", "finding")),
            Item(_("清查工作总结"), "report-summary", also=("report-download",)),
            Item(_("客户查询"), "party-lookup", also=("unmask", "unmask-value")),
            Item(_("客户归并"), "identity:persons", also=("identity:",)),
            Item(_("投保校验"), "screening-dashboard", also=("screening",)),
        ),
    ),
    Group(
        _("整改任务"),
        (
            Item(_("我的任务"), "remediation:mine", also=("remediation:task",)),
            Item(_("团队任务"), "remediation:team", needs=("task.assign",)),
            Item(_("批量指派"), "remediation:assign"),
            Item(_("信函批次"), "remediation:letters", also=("remediation:letter-batch",)),
            Item(_("整改进度"), "remediation:progress"),
            Item(_("抽检"), "remediation:samples", also=("remediation:sample-result",)),
        ),
    ),
    Group(
        _("佣金"),
        (
            Item(_("我的佣金"), "commission-mine"),
            Item(
                _("佣金结算"),
                "commission-runs",
                also=("commission-settle", "commission-run", "commission-statement"),
            ),
        ),
    ),
    Group(
        _("合作机构清查"),
        (
            Item(_("本机构清查函"), "partnership-mine"),
            Item(
                _("清查活动"),
                "partnership-campaigns",
                also=("partnership-campaign", "partnership-letter", "partnership-letters-draft"),
            ),
            Item(_("终止合作建议"), "partnership-recommendations", also=("partnership-recommendation",)),
        ),
    ),
    Group(
        _("违规处理"),
        (
            Item(
                _("违规登记"),
                "discipline-register",
                also=("discipline-case", "discipline-propose-facts", "discipline-appeal-file"),
            ),
            Item(_("提出违规建议"), "discipline-new"),
            Item(_("罚款清单"), "discipline-fines", also=("discipline-fines-paid",)),
            Item(_("黑名单提名"), "discipline-nominations", also=("discipline-nomination-approve",)),
            Item(_("行业黑名单核查"), "blacklist-hits"),
            Item(_("我的违规处理"), "discipline-mine"),
        ),
    ),
    Group(
        _("数据提取"),
        (
            Item(_("待我审批"), "extraction-approvals", badge="nav_pending_approvals"),
            Item(_("全部提取"), "extraction-all"),
            Item(
                _("我的申请"),
                "extractions",
                also=("extraction", "extraction-new"),
                needs=("extract.request",),
            ),
            Item(_("泄露追查"), "extraction-trace", also=("extraction-trace-detail",)),
        ),
    ),
    Group(
        _("安全与审计"),
        (
            Item(_("我的访问记录"), "my-access"),
            Item(_("审计日志"), "audit-search", also=("audit-verification",)),
            Item(_("安全告警"), "alerts", badge="nav_open_alerts"),
            Item(_("访问异常告警"), "watch-queue", also=("watch-staff",)),
            Item(_("泄露案件溯源"), "watch-trace", also=("watch-trace-case",)),
            Item(_("完整性校验"), "integrity-runs"),
            Item(_("密钥状态"), "key-status"),
            Item(_("权限表"), "capabilities"),
        ),
    ),
)


def page_opens(caps: frozenset[str], url_name: str) -> bool:
    """Whether a page (GET) opens for a holder of these capabilities, by the capability table."""
    if url_name in capabilities.SIGNED_IN_PAGES:
        return True
    for name in caps:
        cap = capabilities.CAPABILITIES.get(name)
        if cap and any(r.name == url_name and r.method == "GET" for r in cap.pages):
            return True
    return False


def _matches(item: Item, match) -> bool:
    if match is None:
        return False
    here = match.view_name
    return any(here == n or (n.endswith(":") and here.startswith(n)) for n in (item.url_name, *item.also))


def side_menu(caps: frozenset[str], match, counts: dict) -> tuple[list[dict], list[tuple[str, str]]]:
    """The groups and items this user may open, and the trail to the current page ([(label, url)])."""
    groups, trail = [], []
    for group in MENU:
        items = []
        for item in group.items:
            if not page_opens(caps, item.url_name) or not all(n in caps for n in item.needs):
                continue
            try:
                url = reverse(item.url_name)
            except NoReverseMatch:
                continue
            active = _matches(item, match)
            items.append(
                {"label": item.label, "url": url, "active": active, "badge": counts.get(item.badge, 0)}
            )
            if active:
                trail = [(group.label, items[0]["url"]), (item.label, url)]
        if items:
            groups.append({"label": group.label, "items": items, "active": any(i["active"] for i in items)})
    return groups, trail


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    profile = Profile.objects.filter(user=user).first()
    mark = (profile.staff_no if profile and profile.staff_no else user.username) or "?"
    now = timezone.localtime()
    if capabilities.is_outsider(user):  # a member insurer: the look-up API, no page, no menu
        return {
            "viewer_profile": profile,
            "viewer_mark": f"{user.username} · {timezone.localtime():%Y-%m-%d %H:%M}",
        }
    caps = capabilities_of(user)
    nav_alerts = "watch.alerts" in caps
    open_alerts = 0
    if nav_alerts:
        from custos.watch.models import SecurityAlert

        open_alerts = SecurityAlert.objects.filter(acknowledged=False).count()
    nav_extractions, pending_approvals = _extractions_nav(user, caps)
    counts = {"nav_pending_approvals": pending_approvals, "nav_open_alerts": open_alerts}
    menu, trail = side_menu(caps, getattr(request, "resolver_match", None), counts)
    return {
        "nav_menu": menu,
        "nav_trail": trail,
        "nav_extractions": nav_extractions,
        "nav_pending_approvals": pending_approvals,
        "nav_audit": "audit.read" in caps,
        "nav_alerts": nav_alerts,
        "nav_open_alerts": open_alerts,
        "nav_keys": "keys.manage" in caps,
        "nav_capabilities": "access.table" in caps,
        "nav_integrity": "integrity.verify" in caps,
        "nav_remediation": "task.work" in caps,
        "nav_screening": "screening.view" in caps,
        "viewer_profile": profile,
        "viewer_mark": f"{mark} · {user.username} · {now:%Y-%m-%d %H:%M}",
    }


def _extractions_nav(user, caps) -> tuple[str | None, int]:
    """Where the 数据提取 link leads for this user (approvers to their queue, oversight to every
    extraction, others to their own requests; None: no link) and how many requests await approval."""
    if "extract.approve" in caps:
        from custos.extraction.models import Extraction

        waiting = Extraction.objects.filter(state=Extraction.State.REQUESTED).exclude(requester=user).count()
        return "extraction-approvals", waiting
    if "extract.oversee" in caps:
        return "extraction-all", 0
    if "extract.request" in caps:
        return "extractions", 0
    return None, 0
