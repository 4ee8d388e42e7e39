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
