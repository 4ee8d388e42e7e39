"""The actions `custos.audit.record` writes for changes, with the labels the audit pages show.

Kept apart from `record` (no imports) so the audit log's action registry can include them."""

from django.utils.translation import gettext_lazy as _

CHANGE_ACTIONS: dict[str, object] = {
    # who may see what (custos.access.apps.watch_who_may_see_what: every save, whoever makes it)
    "user.created": _("用户创建"),
    "user.changed": _("用户修改"),
    "user.deactivated": _("用户停用"),
    "user.reactivated": _("用户启用"),
    "user.deleted": _("用户删除"),
    "profile.created": _("角色与范围设定"),
    "profile.changed": _("角色与范围修改"),
    "profile.deleted": _("角色与范围删除"),
    "token.created": _("接口令牌创建"),
    "token.changed": _("接口令牌修改"),
    "token.revoked": _("接口令牌吊销"),
    "token.deleted": _("接口令牌删除"),
    "screening_key.created": _("筛查密钥创建"),
    "screening_key.changed": _("筛查密钥修改"),
    "screening_key.revoked": _("筛查密钥吊销"),
    "screening_key.deleted": _("筛查密钥删除"),
    # customer information and the remediation workflow (custos.remediation.services)
    "party.corrected": _("客户信息更正"),
    "correction.approved": _("更正复核通过"),
    "correction.rejected": _("更正复核驳回"),
    "correction.verified": _("更正回访确认"),
    "correction.failed": _("更正回访未确认"),
    "task.transition": _("整改任务状态变更"),
    # the book (custos.book.services.load_book: one entry per load that changed it)
    "book.loaded": _("数据册载入"),
    # one customer across policies and channels (custos.identity.services)
    "identity.linked": _("客户归并运行"),
    "identity.event_reversed": _("客户归并或拆分撤销"),
    "identity.pair_decided": _("疑似同一客户复核"),
    # commission gates (custos.commission.services)
    "commission.settled": _("佣金结算编制"),
    "commission.approved": _("佣金结算审批"),
    # partners who do not correct (custos.partnership.services)
    "campaign.opened": _("清查活动开启"),
    "partner_letter.drafted": _("合作机构发函起草"),
    "partner_letter.sent": _("合作机构发函寄出"),
    "partner_letter.delivered": _("合作机构发函送达"),
    "partner_letter.acknowledged": _("合作机构发函回执"),
    "partner_letter.returned": _("合作机构发函退回"),
    "partner_letter.refused": _("合作机构拒绝配合"),
    "termination.recommended": _("终止合作建议"),
    "termination.opinion": _("终止合作合规意见"),
    "termination.decided": _("终止合作决定"),
    "partner.terminated": _("合作机构终止合作"),
    # violations and fines (custos.discipline.services)
    "violation.proposed": _("违规处理建议"),
    "violation.evidence": _("违规证据补充"),
    "violation.notified": _("违规告知当事人"),
    "violation.appealed": _("违规申诉"),
    "violation.decided": _("违规处理决定"),
    "violation.paid": _("违规罚款缴纳"),
    "violation.waived": _("违规罚款免除"),
    "nomination.proposed": _("行业黑名单提名"),
    "nomination.approved": _("行业黑名单提名批准"),
    "nomination.sent": _("行业黑名单提名报送"),
    # the industry blacklist exchange (custos.blacklist.services): counts only, never an ID number
    "blacklist.added": _("行业黑名单列入"),
    "blacklist.removed": _("行业黑名单移出"),
    "blacklist.rotated": _("行业黑名单密钥轮换"),
    "blacklist.lookup": _("行业黑名单会员查询"),
    "blacklist.nomination_received": _("行业黑名单收到提名"),
    "blacklist.checked": _("行业黑名单核查候选人"),
    "blacklist.staff_checked": _("行业黑名单核查员工"),
    # the access history and its alerts (custos.watch)
    "watch.ingested": _("访问日志导入"),
    "watch.triaged": _("访问告警研判"),
    "watch.traced": _("泄露文件溯源"),
}
