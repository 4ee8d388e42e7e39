"""The admin in the reader's language: column headings for list pages, and names for the admin site,
its apps and the third-party models it shows (whose own catalogues have no Chinese).

    list_display = columns(("branch_code", _("机构代码")), ("name", _("名称")), "gone_load")

A column is the field's value (its choice label where it has choices) under a translated heading, and
sorts by the field; custos' models carry translated verbose names in their Meta."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# App labels → names in the admin index. Apps' own verbose names are English ("Book", "Axes").
APP_NAMES = {
    "auth": _("用户与权限组"),
    "axes": _("登录防护"),
    "otp_totp": _("动态口令"),
    "book": _("数据册"),
    "checks": _("校验与问题"),
    "access": _("访问控制"),
    "api": _("接口"),
    "extraction": _("数据提取"),
}
# Third-party models shown in the admin: (app label, model) → (singular, plural).
MODEL_NAMES = {
    ("axes", "accessattempt"): (pgettext_lazy("model", "登录尝试"), pgettext_lazy("models", "登录尝试")),
    ("axes", "accesslog"): (pgettext_lazy("model", "登录记录"), pgettext_lazy("models", "登录记录")),
    ("axes", "accessfailurelog"): (
        pgettext_lazy("model", "登录失败记录"),
        pgettext_lazy("models", "登录失败记录"),
    ),
    ("otp_totp", "totpdevice"): (
        pgettext_lazy("model", "动态口令设备"),
        pgettext_lazy("models", "动态口令设备"),
    ),
}


# The labels of custos models' fields on the admin's change and view pages (the models' own
# verbose names are English and changing them would mean migrations for display only). A column
# heading the ModelAdmin gives a field (`columns`) wins over these.
FORM_LABELS = {
    "first_load": _("首次载入"),
    "last_load": _("最近载入"),
    "gone_load": _("移除于载入"),
    "original": _("原始写法"),
    "extra": _("附加列"),
    "integrity_tag": _("完整性标签"),
    "name": _("名称"),
    "address": _("地址"),
    "phone": _("电话"),
    "path": _("机构路径"),
    "branch_code": _("机构代码"),
    "parent_code": _("上级机构代码"),
    "level": _("层级"),
    "partner_code": _("合作机构代码"),
    "kind": _("类型"),
    "contract_no": _("协议号"),
    "contract_until": _("协议到期日"),
    "status": _("状态"),
    "staff_no": _("员工工号"),
    "channel": _("渠道"),
    "position": _("岗位"),
    "supervisor_no": _("上级工号"),
    "hired_on": _("入职日期"),
    "left_on": _("离职日期"),
    "source_name": _("来源"),
    "sha256": _("SHA-256"),
    "mode": _("载入方式"),
    "row_counts": _("行数"),
    "change_counts": _("变化数"),
    "errors": _("错误"),
    "error_count": _("错误数"),
    "warnings": _("警告"),
    "progress": _("进度"),
    "progress_note": _("进度说明"),
    "snapshot_path": _("快照路径"),
    "created_by": _("创建人"),
    "created_at": _("创建时间"),
    "finished_at": _("完成时间"),
    "duplicate_of": _("重复于"),
    "load": _("数据册载入"),
    "engine": _("引擎"),
    "settings": _("设置"),
    "settings_fingerprint": _("设置指纹"),
    "enabled_checks": _("启用的检查"),
    "error": _("错误"),
    "started_at": _("开始时间"),
    "duration_seconds": _("用时（秒）"),
    "engine_seconds": _("引擎用时（秒）"),
    "policies_checked": _("已检查保单"),
    "parties_checked": _("已检查客户"),
    "findings_found": _("发现问题"),
    "findings_opened": _("新开问题"),
    "findings_kept": _("仍存问题"),
    "findings_closed": _("关闭问题"),
    "findings_open": _("未关闭问题"),
    "by_category": _("按类别"),
    "by_check": _("按检查"),
    "policies_missing": _("信息缺失保单"),
    "policies_false": _("信息不真实保单"),
    "policies_untrue": _("信息不真实或缺失保单"),
    "check_code": _("检查代码"),
    "policy_no": _("保单号"),
    "role": _("角色"),
    "seq": _("序号"),
    "field": _("字段"),
    "category": _("类别"),
    "severity": _("严重程度"),
    "close_reason": _("关闭原因"),
    "value": _("值"),
    "proposed": _("建议值"),
    "detail": _("详情"),
    "opened_run": _("发现于检查"),
    "last_seen_run": _("最近发现于检查"),
    "closed_run": _("关闭于检查"),
    "opened_at": _("发现时间"),
    "closed_at": _("关闭时间"),
    "recurs": _("复发"),
    "agent_no": _("业务员工号"),
    "user": _("用户"),
    "prefix": _("前缀"),
    "last_used_at": _("最近使用"),
    "revoked": _("已吊销"),
    "requester": _("申请人"),
    "requester_staff_no": _("申请人工号"),
    "purpose": _("用途"),
    "scope": _("范围"),
    "fields": _("提取字段"),
    "justification": _("理由"),
    "recipient_user": _("接收人账号"),
    "recipient_name": _("接收人"),
    "recipient_org": _("接收单位"),
    "recipient_partner_code": _("接收合作机构"),
    "file_format": _("文件格式"),
    "scope_rows": _("范围内行数"),
    "recipient_rows": _("接收方范围内行数"),
    "state": _("状态"),
    "approver": _("审批人"),
    "decided_at": _("审批时间"),
    "decision_note": _("审批意见"),
    "nonce": _("随机数"),
    "generated_at": _("生成时间"),
    "expires_at": _("过期时间"),
    "row_count": _("行数"),
    "canary_count": _("金丝雀数"),
    "file_path": _("文件路径"),
    "file_sha256": _("文件 SHA-256"),
    "file_bytes": _("文件大小（字节）"),
    "manifest": _("提取文件清单"),
    "mark_field": _("标记字段"),
    "downloaded_at": _("下载时间"),
    "downloaded_by": _("下载人"),
}
_CUSTOS_APPS = {"access", "api", "audit", "book", "checks", "commission", "extraction", "integrity",
                "remediation", "screening", "watch", "web"}  # fmt: skip
_plain_get_form = admin.ModelAdmin.get_form


def _labelled_get_form(self, request, obj=None, change=False, **kwargs):
    if self.model._meta.app_label in _CUSTOS_APPS:
        headings = {
            getattr(c, "field_name", ""): getattr(c, "short_description", "")
            for c in self.list_display
            if callable(c)
        }
        kwargs.setdefault("labels", {**FORM_LABELS, **{k: v for k, v in headings.items() if k and v}})
    return _plain_get_form(self, request, obj, change, **kwargs)


def name_the_admin(site: admin.AdminSite) -> None:
    """Site header and title in custos' words; app and third-party model names translated. Only
    display attributes change (not Meta options: no migrations)."""
    site.site_header = _("custos 系统管理")
    site.site_title = _("custos 系统管理")
    site.index_title = _("系统管理")
    for label, name in APP_NAMES.items():
        try:
            apps.get_app_config(label).verbose_name = name
        except LookupError:
            continue
    for (label, model_name), (one, many) in MODEL_NAMES.items():
        try:
            meta = apps.get_model(label, model_name)._meta
        except LookupError:
            continue
        meta.verbose_name, meta.verbose_name_plural = one, many
    # change and view pages label custos models' fields in the reader's language (form Meta labels,
    # which Django's read-only fields use too)
    admin.ModelAdmin.get_form = _labelled_get_form


def columns(*specs):
    """list_display entries: a field name as it is, or (field, heading, *flags) as a column. Flags:
    "bool" (a tick), "code:<kind>" (a code value's label), "role", "field" (the book's labels),
    "branch" (the branch's name with its code), "nosort" (not a database field)."""
    out = []
    for spec in specs:
        if isinstance(spec, str):
            out.append(spec)
            continue
        name, heading, *flags = spec
        out.append(_column(name, heading, flags))
    return tuple(out)


def _shown(value, flags):
    from custos.book import labels

    for flag in flags:
        if flag.startswith("code:"):
            return labels.code_value(flag[5:], value)
        if flag == "role":
            return labels.label(labels.ROLE_LABELS, value)
        if flag == "field":
            return labels.label(labels.FIELD_LABELS, value)
        if flag == "branch":
            return labels.org_label("branch", value)
    return value


def _column(name: str, heading, flags):
    def show(obj):
        display = getattr(obj, f"get_{name}_display", None)
        return display() if callable(display) else _shown(getattr(obj, name), flags)

    show.__name__ = name
    show.field_name = name
    return admin.display(
        description=heading, ordering=None if "nosort" in flags else name, boolean=("bool" in flags) or None
    )(show)


def code_filter(field: str, title, kind: str):
    """A list filter on a code-valued field that shows the codes' labels (个险, not agency)."""
    from custos.book.labels import CODE_LABELS

    class CodeFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            present = model_admin.get_queryset(request).order_by().values_list(field, flat=True).distinct()
            table = CODE_LABELS.get(kind, {})
            return [(v, table.get(v, v)) for v in sorted(v for v in present if v)]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    CodeFilter.title = title
    CodeFilter.__name__ = f"{field.title()}Filter"
    return CodeFilter


def titled(field: str, title):
    """A list filter on a field (its choices, or its values) under a translated title."""

    class Titled(admin.FieldListFilter):
        def __new__(cls, f, request, params, model, model_admin, field_path):
            base = admin.ChoicesFieldListFilter if f.choices else admin.AllValuesFieldListFilter
            instance = base(f, request, params, model, model_admin, field_path)
            instance.title = title
            return instance

    return (field, Titled)
