"""Strings of this app that live in shared files (the side menu, the capability table, the audit
log's action labels), named here so that `makemessages` keeps their English in this app's catalogue."""

from django.utils.translation import gettext_lazy as _

SHARED = (
    # custos/web/context.py (MENU)
    _("违规处理"),
    _("违规登记"),
    _("提出违规建议"),
    _("罚款清单"),
    _("黑名单提名"),
    _("我的违规处理"),
    # custos/access/capabilities.py
    _("提出违规处理建议"),
    _("决定违规处理与罚款，批准黑名单提名"),
    _("查看并导出每月罚款清单，登记工资代扣"),
    # custos/audit/change_actions.py
    _("违规处理建议"),
    _("违规证据补充"),
    _("违规告知当事人"),
    _("违规申诉"),
    _("违规处理决定"),
    _("违规罚款缴纳"),
    _("违规罚款免除"),
    _("行业黑名单提名"),
    _("行业黑名单提名批准"),
    _("行业黑名单提名报送"),
)
