"""Display labels of the book's fields, roles and code values, for pages (one table for every app).

Storage and engines use the English codes of ``custos.domain.codes``. Field, role and table labels are
translated (the English catalogue is ``custos/book/locale``); a code *value* (配偶, 银保) is shown by
its Chinese label in the Chinese interface and as the code itself in the English one."""

from __future__ import annotations

from django.utils.translation import get_language, gettext_lazy, pgettext_lazy

from custos.domain import codes

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
# Fields whose values are codes of the book format (not personal data): shown with their label.
_CODE_FIELDS = {
    "role": codes.ROLE,
    "relation": codes.RELATION,
    "gender": codes.GENDER,
    "id_type": codes.ID_TYPE,
    "channel": codes.CHANNEL,
}


def label(labels: dict, code: str | None) -> str:
    """``labels[code]`` as text, the code itself when it has no label, '' for no code."""
    return str(labels.get(code, code)) if code else ""


def code_value(field: str, value):
    """A code-valued field's value as the reader's language shows it (配偶 in Chinese, spouse in
    English); other values, and codes not in the list, as they are."""
    table = _CODE_FIELDS.get(field)
    if not value or table is None or value not in table or not (get_language() or "").startswith("zh"):
        return value
    return table[value][0]
