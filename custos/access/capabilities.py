"""The one authorization table: which role may do what, and the functions every interface asks.

    from custos.access.capabilities import can, require, restrict

    if not can(request.user, "extract.approve"): ...      # a user or an AccessContext
    require(request.user, "keys.manage")                   # PermissionDenied (403) if not
    restrict(Policy.objects.all(), request.user, "view")   # the queryset narrowed to the user's scope

A decision "may this user do X" is a lookup in CAPABILITIES (capability → roles) plus the user's
scope (custos/access/service.py), the same for pages, API, commands and services; nothing else in
custos compares roles (tests/test_capabilities.py fails if something does). A capability also names
the interfaces that offer it — URL names, API operation ids, commands — and that test calls each of
them as every role without the capability and expects a refusal.

A user holds no capability when they are not signed in, inactive, without a Profile, or staff whose
`left_on` has come (has_left), or staff of a partner custos terminated (partner_terminated; cut_off
asks both). Capabilities marked `planned` belong to apps not built yet (commission,
discipline, the regulator report, watch, identity): declared now so that their authors plug in here.

Per-company settings: `settings.CUSTOS_CAPABILITIES = {"capability": ["role", …]}` replaces the roles
of any capability; unmasking keeps its own table `settings.CUSTOS_UNMASK_ROLES` (role → bool).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.access.models import Profile, Role

R = Role
EVERY_ROLE = frozenset(Role.values)


@dataclass(frozen=True)
class Route:
    """A page that offers a capability: its URL name, method and the record its URL names."""

    name: str
    method: str = "GET"
    record: str = ""  # "" | party | extraction | task | correction | sample | alert (the test builds it)
    kwargs: tuple[tuple[str, str], ...] = ()  # fixed URL arguments, e.g. (("action", "approve"),)


@dataclass(frozen=True)
class Capability:
    name: str
    roles: frozenset[str]
    description: object  # a lazy gettext string (zh source, en translation)
    pages: tuple[Route, ...] = ()
    api: tuple[str, ...] = ()  # OpenAPI operation ids
    commands: tuple[str, ...] = ()  # `custos …` commands: run by the operator on the host (no role)
    shown_on: tuple[Route, ...] = ()  # pages every signed-in user opens that show this part only with it
    second_factor: bool = False  # holders sign in with TOTP (settings.CUSTOS_OTP_ROLES overrides)
    setting: str = ""  # a settings dict role → bool that replaces `roles` (unmask: CUSTOS_UNMASK_ROLES)
    planned: bool = False  # declared for an app that is not built yet


def P(name: str, method: str = "GET", record: str = "", **kwargs: str) -> Route:  # noqa: N802
    return Route(name, method, record, tuple(sorted(kwargs.items())))


REMEDIATION_ROLES = frozenset(
    {R.COMPLIANCE, R.CUSTOMER_SERVICE, R.CHANNEL_MANAGER, R.AGENT, R.PARTNER_STAFF, R.OPERATIONS, R.EXECUTIVE}
)
_API = "custos_{}_api_{}".format

_TABLE = [
    # --- personal data ----------------------------------------------------------------------------
    Capability(
        "unmask",
        frozenset({R.COMPLIANCE, R.CUSTOMER_SERVICE, R.OPERATIONS}),
        _("查看客户信息明文（须说明用途，限时、限次，留痕）"),
        pages=(P("unmask", record="party", field="mobile"),),
        setting="CUSTOS_UNMASK_ROLES",
        second_factor=True,
    ),
    Capability(
        "book.upload",
        frozenset({R.COMPLIANCE, R.IT_SECURITY}),
        _("上传数据册"),
        pages=(P("upload"),),
        api=(_API("api", "create_load"),),
        commands=("load",),
    ),
    Capability(
        "load.errors",
        frozenset({R.COMPLIANCE, R.IT_SECURITY, R.AUDITOR}),
        _("查看加载错误明细（可能引用数据册中的值）"),
        shown_on=(P("load", record="load"),),
    ),
    Capability(
        "load.error_report",
        frozenset({R.IT_SECURITY, R.COMPLIANCE}),
        _("查看加载错误原文（含数据册中的值，每次查看留痕）"),
        pages=(P("load-error-report", record="load"),),
        api=(_API("api", "load_error_report"),),
    ),
    # --- extraction --------------------------------------------------------------------------------
    Capability(
        "extract.request",
        EVERY_ROLE - {R.AUDITOR},
        _("申请数据提取"),
        pages=(P("extraction-new"),),
        api=(_API("extraction", "create_extraction"),),
    ),
    Capability(
        "extract.approve",
        frozenset({R.EXECUTIVE}),
        _("审批数据提取（不能审批自己的申请）"),
        pages=(
            P("extraction-approvals"),
            P("extraction-act", "POST", "extraction", action="approve"),
            P("extraction-act", "POST", "extraction", action="reject"),
        ),
        api=(_API("extraction", "approve_extraction"), _API("extraction", "reject_extraction")),
        second_factor=True,
    ),
    Capability(
        "extract.oversee",
        frozenset({R.COMPLIANCE, R.AUDITOR}),
        _("查看全部数据提取"),
        pages=(P("extraction-all"),),
    ),
    Capability(
        "extract.cancel",
        frozenset({R.COMPLIANCE}),
        _("撤销他人的数据提取申请（申请人总可撤销自己的）"),
        pages=(P("extraction-act", "POST", "extraction", action="cancel"),),
        api=(_API("extraction", "cancel_extraction"),),
    ),
    Capability(
        "leak.trace",
        frozenset({R.COMPLIANCE, R.IT_SECURITY}),
        _("追查泄露文件的来源"),
        pages=(P("extraction-trace"), P("watch-trace"), P("watch-trace", "POST")),
        commands=("extract trace", "trace"),
    ),
    # --- remediation -------------------------------------------------------------------------------
    Capability(
        "task.work",
        REMEDIATION_ROLES,
        _("处理整改任务：回访、信函、进度、抽检结果"),
        pages=(
            P("remediation:mine"),
            P("remediation:team"),
            P("remediation:letters"),
            P("remediation:samples"),
            P("remediation:task", record="task"),
            P("remediation:attempt", "POST", "task"),
            P("remediation:close", "POST", "task"),
        ),
        api=tuple(
            _API("remediation", op)
            for op in (
                "list_tasks",
                "get_task",
                "add_attempt",
                "close",
                "notices",
                "samples",
                "letters",
                "partner_notice",
            )
        ),
        commands=("tasks", "corrections"),
    ),
    Capability(
        "task.progress",
        REMEDIATION_ROLES | {R.AUDITOR},
        _("查看整改进度（按渠道、机构汇总，只读）"),
        pages=(P("remediation:progress"), P("remediation:progress-export")),
        api=(_API("remediation", "progress"),),
    ),
    Capability(
        "correction.propose",
        REMEDIATION_ROLES,
        _("提交客户信息更正"),
        pages=(P("remediation:propose", "POST", "task"),),
        api=(_API("remediation", "propose"),),
    ),
    Capability(
        "task.assign",
        frozenset({R.CHANNEL_MANAGER, R.CUSTOMER_SERVICE, R.COMPLIANCE}),
        _("指派整改任务，查看整个团队的任务"),
        pages=(P("remediation:assign"),),
        api=(_API("remediation", "assign"),),
    ),
    Capability(
        "task.review",
        frozenset({R.CUSTOMER_SERVICE, R.COMPLIANCE, R.OPERATIONS, R.CHANNEL_MANAGER}),
        _("复核他人提交的更正（双人复核）"),
        pages=(P("remediation:review", "POST", "correction"),),
        api=(_API("remediation", "review"),),
    ),
    Capability(
        "task.verify",
        frozenset({R.CUSTOMER_SERVICE}),
        _("回访核实更正后的联系方式"),
        pages=(P("remediation:verify", "POST", "task"),),
        api=(_API("remediation", "verify"),),
    ),
    Capability(
        "sample.draw",
        frozenset({R.COMPLIANCE}),
        _("抽取已关闭的任务复查"),
        pages=(P("remediation:samples", "POST"),),
        api=(_API("remediation", "draw"),),
    ),
    Capability(
        "sample.check",
        frozenset({R.CUSTOMER_SERVICE, R.COMPLIANCE}),
        _("记录抽检结果"),
        pages=(P("remediation:sample-result", "POST", "sample"),),
        api=(_API("remediation", "sample_result"),),
    ),
    # --- screening ---------------------------------------------------------------------------------
    Capability(
        "screening.view",
        frozenset({R.COMPLIANCE, R.AUDITOR}),
        _("查看投保筛查结果与统计"),
        pages=(P("screening-dashboard"), P("screening", record="screening")),
    ),
    Capability(
        "screening.manage",
        frozenset({R.COMPLIANCE}),
        _("管理调用筛查接口的系统密钥与筛查上下文"),
        commands=("screenkey", "screenindex", "screen"),
    ),
    # --- audit, alerts, keys -----------------------------------------------------------------------
    Capability(
        "audit.read",
        frozenset({R.COMPLIANCE, R.IT_SECURITY, R.AUDITOR}),
        _("检索审计日志，查看其校验结果与证明（只读）"),
        pages=(P("audit-search"), P("audit-verification")),
        commands=("audit",),
    ),
    Capability(
        "audit.verify",
        frozenset({R.IT_SECURITY}),
        _("验证审计日志未被篡改"),
        pages=(P("key-status-verify", "POST"),),
        commands=("audit verify",),
    ),
    Capability(
        "watch.alerts",
        frozenset({R.IT_SECURITY, R.COMPLIANCE}),
        _("查看并确认安全告警"),
        pages=(
            P("alerts"),
            P("alert-ack", "POST", "alert"),
            P("watch-queue"),
            P("watch-staff", staff_no="A1", day="2026-03-02"),
            P("watch-staff", "POST", staff_no="A1", day="2026-03-02"),
        ),
        commands=("watch",),
    ),
    Capability(
        "keys.manage",
        frozenset({R.IT_SECURITY}),
        _("管理密钥：查看状态、轮换"),
        pages=(P("key-status"), P("key-rotate", "POST")),
        commands=("keys", "security"),
        second_factor=True,
    ),
    Capability(
        "access.table",
        frozenset({R.IT_SECURITY, R.AUDITOR}),
        _("查看权限表"),
        pages=(P("capabilities"),),
    ),
    Capability(
        "integrity.verify",
        frozenset({R.IT_SECURITY, R.AUDITOR}),
        _("查看客户信息完整性校验（防篡改标签）的结果"),
        pages=(P("integrity-runs"),),
        commands=("integrity verify",),
    ),
    # --- commission gates ---------------------------------------------------------------------------
    Capability(
        "commission.view",
        frozenset({R.FINANCE, R.COMPLIANCE, R.AUDITOR}),
        _("查看佣金暂扣、扣回与发放"),
        pages=(
            P("commission-runs"),
            P("commission-run", record="settlement"),
            P("commission-export", month="2026-01", fmt="csv"),
        ),
        api=(
            _API("commission", "list_statements"),
            _API("commission", "get_statement"),
            _API("commission", "list_items"),
        ),
    ),
    Capability(
        "commission.approve",
        frozenset({R.FINANCE}),
        _("编制与审批佣金结算：暂扣、扣回或发放佣金（编制人不能审批自己的结算）"),
        pages=(P("commission-settle", "POST"), P("commission-approve", "POST", record="settlement")),
        commands=("commission run", "commission approve"),
    ),
    Capability(
        "commission.own",
        frozenset({R.AGENT, R.PARTNER_STAFF}),
        _("查看本人（本机构）的佣金结算单与暂扣"),
        pages=(P("commission-mine"),),
        api=(_API("commission", "mine"),),
    ),
    # --- partners who do not correct (custos/partnership) -------------------------------------------
    Capability(
        "partnership.manage",
        frozenset({R.COMPLIANCE}),
        _("开展清查活动：向合作机构正式发函，登记寄送、送达、回执与拒绝配合"),
        pages=(
            P("partnership-campaigns"),
            P("partnership-campaigns", "POST"),
            P("partnership-letters-draft", "POST"),
            P("partnership-letter-step", "POST"),
        ),
        commands=("partnership campaign", "partnership letters"),
    ),
    Capability(
        "partnership.view",
        frozenset({R.COMPLIANCE, R.CUSTOMER_SERVICE}),
        _("查看终止合作建议、合规意见与决定（通报总公司合规与客服）"),
        pages=(P("partnership-recommendations"),),
    ),
    Capability(
        "partnership.decide",
        frozenset({R.COMPLIANCE}),
        _("审查逾期或拒不配合的合作机构，出具合规意见并决定终止合作、延期或不采取措施"),
        pages=(
            P("partnership-review", "POST"),
            P("partnership-opinion", "POST"),
            P("partnership-decide", "POST"),
        ),
        commands=("partnership review",),
    ),
    Capability(
        "partnership.own",
        frozenset({R.PARTNER_STAFF}),
        _("查看本机构收到的清查函及解除佣金暂扣的条件"),
        pages=(P("partnership-mine"),),
    ),
    # --- discipline (custos/discipline) --------------------------------------------------------------
    Capability(
        "violation.propose",
        frozenset({R.COMPLIANCE, R.CUSTOMER_SERVICE, R.CHANNEL_MANAGER}),
        _("提出违规处理建议"),
        pages=(P("discipline-new"), P("discipline-new", "POST")),
    ),
    Capability(
        "violation.decide",
        frozenset({R.COMPLIANCE}),
        _("决定违规处理与罚款，批准黑名单提名"),
        pages=(P("discipline-register"), P("discipline-propose-facts", "POST"), P("discipline-nominations")),
        commands=("discipline",),
    ),
    Capability(
        "violation.fines",
        frozenset({R.COMPLIANCE, R.FINANCE}),
        _("查看并导出每月罚款清单，登记工资代扣"),
        pages=(
            P("discipline-fines"),
            P("discipline-fines-export", month="2026-01", fmt="csv"),
            P("discipline-fines-paid", "POST"),
        ),
    ),
    # --- apps to come: declared now, their authors add the interfaces ------------------------------
    # --- the industry blacklist exchange (custos/blacklist) -------------------------------------------
    Capability(
        "blacklist.manage",
        frozenset({R.COMPLIANCE}),
        _("查看员工的行业黑名单核查结果与命中，维护行业黑名单（行业协会）"),
        pages=(P("blacklist-hits"),),
        commands=("blacklist",),
    ),
    Capability(
        "blacklist.lookup",
        frozenset({R.MEMBER}),
        _("会员公司：查询行业黑名单（隐私集合求交）并提交提名"),
        api=(_API("blacklist", "setup"), _API("blacklist", "lookup"), _API("blacklist", "nominate")),
    ),
    Capability(
        "report.regulator",
        frozenset({R.COMPLIANCE, R.EXECUTIVE, R.AUDITOR}),
        _("生成并查看监管报告"),
        pages=(P("report-summary"), P("report-download", fmt="xlsx"), P("report-download", fmt="pdf")),
        commands=("report",),
    ),
    Capability(
        "identity.view",
        frozenset({R.COMPLIANCE, R.CUSTOMER_SERVICE, R.CHANNEL_MANAGER, R.AGENT, R.PARTNER_STAFF,
                   R.OPERATIONS, R.AUDITOR}),  # fmt: skip
        _("查看跨渠道归并的客户（仅其查看范围内的保单，已脱敏）"),
        pages=(P("identity:persons"), P("identity:person", record="person")),
        api=tuple(
            _API("identity", op) for op in ("list_persons", "get_person", "person_parties", "person_conflicts")
        ),
    ),
    Capability(
        "identity.review",
        frozenset({R.COMPLIANCE, R.CUSTOMER_SERVICE}),
        _("复核跨渠道的同一客户识别"),
        pages=(P("identity:review"), P("identity:decide", "POST", "review_pair")),
    ),
]

CAPABILITIES: dict[str, Capability] = {c.name: c for c in _TABLE}

# Pages and API operations that are not a capability: open to anyone, or to everyone signed in (and
# then scoped by the access service, or the caller's own records only). Every route is either here or
# in a capability (tests/test_capabilities.py checks it).
PUBLIC_PAGES = frozenset({"login", "set_language"})
SIGNED_IN_PAGES = frozenset(
    {
        "home",
        "logout",
        "otp-setup",
        "otp-verify",
        "load",
        "load-status",
        "party-lookup",
        "unmask-value",
        "my-access",
        "findings-dashboard",
        "findings-export",  # the dashboard's aggregates as XLSX, scoped as the page
        "findings-list",
        "finding",
        "extractions",
        "extraction",
        "extraction-download",
        "extraction-act",
        "extraction-trace-detail",  # a leak trace: 404 unless leak.trace (traces_visible_to)
        "commission-statement",  # 403 unless commission.view or the statement's own payee
        "extraction-trace-status",
        "remediation:evidence",
        "remediation:letter-batch",
        "partnership-campaign",  # 403 unless partnership.manage
        "partnership-letter",  # 403 unless partnership.manage (in scope) or the letter's own partner
        "partnership-letter-pdf",  # as the letter
        "partnership-recommendation",  # 403 unless partnership.view (in scope)
        "discipline-mine",  # one's own cases (none for a user without a staff number)
        "discipline-case",  # 404 unless violation.decide or the case's own staff member
        "discipline-appeal-file",  # as the case
        "discipline-nomination-approve",  # 403 unless violation.decide
        "watch-trace-case",  # a leak case: 403 unless leak.trace
        "watch-trace-pdf",  # as the case
    }
)
SIGNED_IN_API = frozenset(
    {
        _API("api", "list_loads"),
        _API("api", "get_load"),
        _API("api", "policy_parties"),
        _API("api", "customer_lookup"),
        _API("api", "customer_list"),
        _API("checks", "list_findings"),
        _API("checks", "summary"),
        _API("checks", "get_finding"),
        _API("extraction", "list_extractions"),
        _API("extraction", "get_extraction"),
    }
)
SYSTEM_API = frozenset({_API("screening", "screen")})  # calling systems' keys, never a user's token
# Roles outside the company: the member insurers of an association's custos (custos.blacklist). They
# hold their capabilities' API operations and nothing else: no page, no signed-in API, no scope in
# the book (custos.blacklist.middleware refuses every other path).
OUTSIDE_ROLES = frozenset({R.MEMBER})
# Commands that are housekeeping of the host (no personal data, no decision): the operator's own.
OPERATOR_COMMANDS = frozenset(
    {"init", "createuser", "token", "serve", "demo", "synth", "bench", "check", "findings", "extract"}
    | {"link", "persons"}  # identity resolution: batch linking and the person-id export (no values)
    | {"spark"}  # starting and stopping the development Spark cluster (no book data)
)


# --- who --------------------------------------------------------------------------------------------


def profile_of(user) -> Profile | None:
    """The Profile of a signed-in, active user (None otherwise)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Profile.objects.filter(user=user).first()


def is_outsider(who) -> bool:
    """Whether a user (or AccessContext) has a role outside the company (OUTSIDE_ROLES)."""
    p = _profile(who)
    return p is not None and p.role in OUTSIDE_ROLES


def role_of(user) -> str | None:
    """The role of a signed-in, active user with a profile (None otherwise). Staff who have left keep
    their role here; `can` refuses them."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Profile.objects.filter(user=user).values_list("role", flat=True).first()


def has_left(staff_no: str, today: dt.date | None = None) -> bool:
    """Whether the book's staff table says this staff member has left (left_on on or before today)."""
    from custos.book.models import Staff

    if not staff_no:
        return False
    today = today or timezone.localdate()
    return Staff.objects.filter(staff_no=staff_no, left_on__isnull=False, left_on__lte=today).exists()


def partner_terminated(partner_code: str, today: dt.date | None = None) -> bool:
    """Whether custos ended this partner's agency relationship (custos.partnership): its staff hold
    nothing from the termination's effective date, like staff who have left."""
    if not partner_code:
        return False
    from custos.partnership.status import terminated

    return terminated(partner_code, today)


def cut_off(p: Profile, today: dt.date | None = None) -> bool:
    """Staff who have left, or staff of a terminated partner."""
    return has_left(p.staff_no, today) or partner_terminated(p.partner_code, today)


def _profile(who) -> Profile | None:
    if hasattr(who, "policies") and hasattr(who, "profile"):  # an AccessContext
        p = who.profile
        user = who.user
        return p if p is not None and user is not None and getattr(user, "is_active", False) else None
    return profile_of(who)


# --- the table --------------------------------------------------------------------------------------


def roles_with(capability: str) -> frozenset[str]:
    """The roles that hold a capability, with this deployment's settings applied."""
    cap = CAPABILITIES[capability]  # KeyError: a capability that is not in the table
    override = getattr(settings, "CUSTOS_CAPABILITIES", {}).get(capability)
    if override is not None:
        return frozenset(override)
    if cap.setting and getattr(settings, cap.setting, None) is not None:
        return frozenset(role for role, ok in getattr(settings, cap.setting).items() if ok)
    return cap.roles


def role_can(role: str | None, capability: str) -> bool:
    """The table alone: whether a role holds a capability (no user, no scope)."""
    return bool(role) and role in roles_with(capability)


def capabilities_of(who) -> frozenset[str]:
    """Every capability a user (or AccessContext) holds now: two queries, for menus and pages."""
    p = _profile(who)
    if p is None or cut_off(p):
        return frozenset()
    return frozenset(name for name in CAPABILITIES if p.role in roles_with(name))


def can(who, capability: str) -> bool:
    """May this user (or AccessContext) do this? Not signed in, inactive, no profile, or left → False."""
    allowed = roles_with(capability)
    p = _profile(who)
    return p is not None and p.role in allowed and not cut_off(p)


def require(who, capability: str) -> None:
    """PermissionDenied (a 403 on pages; the API's handler answers 403 too) unless can()."""
    if not can(who, capability):
        raise PermissionDenied(_("您的角色不能执行此操作。"))


def second_factor_roles() -> frozenset[str]:
    """Roles that sign in with a second factor: settings.CUSTOS_OTP_ROLES when set, else the holders
    of every capability marked second_factor (unmask, extraction approval, keys)."""
    configured = getattr(settings, "CUSTOS_OTP_ROLES", None)
    if configured:
        return frozenset(configured)
    return frozenset().union(*(roles_with(c.name) for c in _TABLE if c.second_factor))


def needs_second_factor(user) -> bool:
    return bool(settings.CUSTOS_OTP_REQUIRED) and role_of(user) in second_factor_roles()


# --- scope ------------------------------------------------------------------------------------------

# model → function(queryset, AccessContext) narrowing it to the context's scope. Policy and Party are
# the access service's own; apps register theirs (register_scope) in their AppConfig.ready.
_SCOPES: dict[type, Callable] = {}


def register_scope(model: type, fn: Callable) -> None:
    _SCOPES[model] = fn


def restrict(queryset, who, action: str = "view"):
    """The queryset narrowed to what `who` (a user or an AccessContext) may `action` (NetBox's
    restrict): nothing when action is a capability the user does not hold; otherwise the model's scope
    filter (Policy and Party through the access service, other models as their app registered).
    A model without a scope filter is refused (empty), never returned whole."""
    from custos.access.service import AccessContext
    from custos.book.models import Party, Policy

    ctx = who if isinstance(who, AccessContext) else AccessContext.for_user(who)
    if action != "view" and not can(ctx, action):
        return queryset.none()
    model = queryset.model
    if model is Policy:
        return queryset.filter(pk__in=ctx.policies().values("pk"))
    if model is Party:
        return queryset.filter(policy_no__in=ctx.policies().values("policy_no"))
    fn = _SCOPES.get(model)
    return fn(queryset, ctx) if fn is not None else queryset.none()


def table() -> list[dict]:
    """The table as rows for a page or a document: capability, description, roles, interfaces."""
    rows = []
    for cap in _TABLE:
        roles = roles_with(cap.name)
        rows.append(
            {
                "name": cap.name,
                "description": cap.description,
                "planned": cap.planned,
                "roles": [r for r in Role.values if r in roles],
                "cells": [r in roles for r in Role.values],
                "pages": [p.name for p in cap.pages + cap.shown_on],
                "api": list(cap.api),
                "commands": list(cap.commands),
                "second_factor": cap.second_factor,
            }
        )
    return rows


__all__ = [
    "CAPABILITIES",
    "Capability",
    "Route",
    "can",
    "require",
    "restrict",
    "role_of",
    "profile_of",
    "has_left",
    "is_outsider",
    "partner_terminated",
    "cut_off",
    "roles_with",
    "role_can",
    "capabilities_of",
    "register_scope",
    "second_factor_roles",
    "table",
]
