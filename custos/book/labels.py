"""Display labels of the book's fields, roles, code values and organisation, for pages (one table for
every app).

Storage and engines use the English codes of ``custos.domain.codes``. Field, role, table and code-value
labels are translated (the English catalogue is ``custos/book/locale``): a code *value* shows as 配偶,
银保 in the Chinese interface and as Spouse, Bancassurance in the English one.

Branches, partners and staff show by name with their code (``org_label``), as the current book names
them — in Chinese in both languages (they are proper names). Staff names are personal data (not
sealed, but masked wherever shown, docs/security.md): a staff member shows as position, masked name
and staff number. Look-ups are cached for one request (``request_started`` opens a cache, the end of
the request drops it), so a new book load is seen by the next request; outside a request every call
asks the database unless the caller opens ``label_cache()``."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.core.signals import request_finished, request_started
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy

from custos.domain import codes, masking

FIELD_LABELS = {
    "policy_no": gettext_lazy("保单号"), "role": gettext_lazy("角色"), "seq": gettext_lazy("序号"), "name": gettext_lazy("姓名"), "gender": gettext_lazy("性别"),
    "birth_date": gettext_lazy("出生日期"), "id_type": gettext_lazy("证件类型"), "id_no": gettext_lazy("证件号码"), "id_valid_until": gettext_lazy("证件有效期"),
    "nationality": gettext_lazy("国籍"), "relation": gettext_lazy("与投保人关系"), "mobile": gettext_lazy("手机号码"), "phone": gettext_lazy("固定电话"),
    "address": gettext_lazy("联系地址"), "postcode": gettext_lazy("邮政编码"), "email": gettext_lazy("电子邮箱"), "occupation_code": gettext_lazy("职业代码"),
    "agent_no": gettext_lazy("业务员工号"), "partner_code": gettext_lazy("合作机构代码"), "channel": gettext_lazy("渠道"),
    "branch_code": gettext_lazy("机构代码"), "parties": gettext_lazy("投保人/被保险人"),
}  # fmt: skip
ROLE_LABELS = {
    "applicant": gettext_lazy("投保人"),
    "insured": gettext_lazy("被保险人"),
    "beneficiary": gettext_lazy("受益人"),
    "policy": pgettext_lazy("finding role", "保单"),
}
TABLE_LABELS = {
    "branches": pgettext_lazy("book table", "机构"),
    "staff": pgettext_lazy("book table", "员工"),
    "partners": pgettext_lazy("book table", "合作机构"),
    "policies": pgettext_lazy("book table", "保单"),
    "parties": pgettext_lazy("book table", "投保人、被保险人、受益人"),
    "changes": pgettext_lazy("book table", "变更记录"),
    "visits": pgettext_lazy("book table", "回访记录"),
}
# Code lists whose values pages show by label: {kind: {code: label}}. The Chinese label is the code
# list's first one (custos.domain.codes); the context is "code <kind>" (有效 is Active for a partner,
# In force for a policy). Kinds are named as the fields that hold them where a field does.
_CODE_LISTS = {
    "role": codes.ROLE,
    "relation": codes.RELATION,
    "gender": codes.GENDER,
    "id_type": codes.ID_TYPE,
    "channel": codes.CHANNEL,
    "branch_level": codes.BRANCH_LEVEL,
    "position": codes.POSITION,
    "partner_kind": codes.PARTNER_KIND,
    "partner_status": codes.PARTNER_STATUS,
    "policy_status": codes.POLICY_STATUS,
    "visit_method": codes.VISIT_METHOD,
    "visit_outcome": codes.VISIT_OUTCOME,
}
CODE_LABELS = {
    kind: {code: pgettext_lazy(f"code {kind}", names[0]) for code, names in table.items()}
    for kind, table in _CODE_LISTS.items()
}


def label(labels: dict, code: str | None) -> str:
    """``labels[code]`` as text, the code itself when it has no label, '' for no code."""
    return str(labels.get(code, code)) if code else ""


def code_value(field: str, value):
    """A code-valued field's value as the reader's language shows it (配偶 in Chinese, Spouse in
    English); other values, and codes not in the list, as they are."""
    table = CODE_LABELS.get(field)
    if not value or table is None or not isinstance(value, str) or value not in table:
        return value
    return str(table[value])


# --- organisation: branches, partners, staff -------------------------------------------------------

_local = threading.local()


def _cache() -> dict | None:
    return getattr(_local, "cache", None)


def _open_cache(**_kwargs) -> None:
    _local.cache = {}


def _drop_cache(**_kwargs) -> None:
    _local.cache = None


request_started.connect(_open_cache, dispatch_uid="custos.book.labels.open")
request_finished.connect(_drop_cache, dispatch_uid="custos.book.labels.drop")


@contextmanager
def label_cache():
    """Cache look-ups for the block (a command or job labelling many rows); a request has one."""
    outer = _cache()
    if outer is not None:
        yield
        return
    _open_cache()
    try:
        yield
    finally:
        _drop_cache()


def _branches() -> dict[str, tuple[str, str]] | None:
    """{code: (name, parent_code)} of every branch, once per cache; None without a cache."""
    cache = _cache()
    if cache is None:
        return None
    if "branch" not in cache:
        from custos.book.models import Branch

        cache["branch"] = {
            c: (n, p) for c, n, p in Branch.objects.values_list("branch_code", "name", "parent_code")
        }
    return cache["branch"]


def _branch(code: str) -> tuple[str, str] | None:
    known = _branches()
    if known is not None:
        return known.get(code)
    from custos.book.models import Branch

    row = Branch.objects.filter(branch_code=code).values_list("name", "parent_code").first()
    return tuple(row) if row else None


def _fetch(kind: str, wanted: list[str]) -> dict[str, str]:
    """{code: label} of the partners or staff with these codes (one query)."""
    from custos.book.models import Partner, Staff

    out: dict[str, str] = {}
    if kind == "partner":
        for code, name in Partner.objects.filter(partner_code__in=wanted).values_list("partner_code", "name"):
            out[code] = name
    else:
        rows = Staff.objects.filter(staff_no__in=wanted).values_list("staff_no", "name", "position")
        for code, name, position in rows:
            shown = " ".join(p for p in (code_value("position", position), masking.name(name)) if p)
            out[code] = shown
    return out


def prefetch(kind: str, codes_: list[str] | set[str]) -> None:
    """Look up many partners or staff in one query (a list page before it labels its rows)."""
    cache = _cache()
    if cache is None or kind not in ("partner", "staff"):
        return
    known = cache.setdefault(kind, {})
    wanted = [c for c in set(codes_) if c and c not in known]
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found = _fetch(kind, chunk)
        for code in chunk:
            known[code] = found.get(code)


def _name(kind: str, code: str) -> str | None:
    if kind == "branch":
        row = _branch(code)
        return row[0] if row else None
    if kind not in ("partner", "staff"):
        raise ValueError(f"unknown organisation kind {kind!r}")
    cache = _cache()
    if cache is None:
        return _fetch(kind, [code]).get(code)
    known = cache.setdefault(kind, {})
    if code not in known:
        known[code] = _fetch(kind, [code]).get(code)
    return known[code]


def with_code(name: str | None, code: str) -> str:
    """石家庄中心支公司（130100） in Chinese, 石家庄中心支公司 (130100) in English; the code alone
    without a name."""
    if not name:
        return code
    if (get_language() or "").startswith("zh"):
        return f"{name}（{code}）"
    return f"{name} ({code})"


def org_label(kind: str, code: str | None) -> str:
    """A branch, partner or staff member as pages show it: 石家庄中心支公司（130100）, 业务员 张*伟
    （A000123）; the code alone when the book does not know it; '' for no code. ``kind`` is
    "branch", "partner" or "staff"."""
    if not code:
        return ""
    code = str(code)
    return with_code(_name(kind, code), code)


def branch_path(code: str | None) -> list[tuple[str, str]]:
    """[(code, name)] from the root (head office) down to this branch, following parent_code; [] for
    an unknown branch."""
    path: list[tuple[str, str]] = []
    seen: set[str] = set()
    while code and code not in seen:
        seen.add(code)
        row = _branch(code)
        if row is None:
            break
        path.append((code, row[0]))
        code = row[1]
    return path[::-1]
