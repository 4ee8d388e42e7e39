"""Every action and outcome the audit log records, with the label the audit pages show.

`custos.audit.service.append` refuses an action or outcome that is not here (UnknownAction), so the
audit search offers exactly what the log can hold and a new kind of entry cannot be unsearchable: a
new action is added here first. `tests/test_security_probe.py` also reads the code for every action
passed to the recording functions and checks it is registered."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

ACTIONS: dict[str, object] = {
    # reads of personal data (the record ids are the rows shown)
    "lookup": _("客户查询"),
    "customer_list": _("客户清单"),
    "list": _("问题清单"),
    "detail": _("问题详情"),
    "api": _("接口读取"),
    "export": _("导出"),
    "extract": _("数据提取生成"),
    "letter": _("信函生成"),
    "task_view": _("整改任务查看"),
    "evidence": _("证明材料查看"),
    "screening": _("投保筛查查看"),
    "unmask": _("查看明文"),
    "load_errors": _("加载错误原文查看"),
    # sign-in
    "login": _("登录"),
    "logout": _("退出"),
    "lockout": _("登录锁定"),
    "otp_setup": _("动态验证码设置"),
    "otp_verify": _("动态验证码验证"),
    "deactivate": _("离职停用"),
    # data and security operations
    "upload": _("上传数据册"),
    "audit_search": _("审计日志查询"),
    "audit_verify": _("审计日志校验"),
    "audit_proof": _("审计证明查看"),
    "alert_ack": _("告警确认"),
    "key_rotate": _("密钥轮换"),
    "key_replace_index": _("更换索引密钥"),
    # customer rows' integrity tags (custos.integrity): a verification run, a read refused
    "integrity_verify": _("客户信息完整性校验"),
    "integrity_refused": _("客户信息完整性校验失败，拒绝读取"),
    # every transition of an extraction is "extraction.<state>" (custos.extraction.services._audit,
    # Extraction.State; a test keeps these in step)
    "extraction.requested": _("提取申请"),
    "extraction.approved": _("提取批准"),
    "extraction.rejected": _("提取驳回"),
    "extraction.generated": _("提取文件生成"),
    "extraction.downloaded": _("提取文件下载"),
    "extraction.expired": _("提取过期"),
    "extraction.cancelled": _("提取撤销"),
    "extraction.failed": _("提取文件生成失败"),
    "extraction.trace": _("泄露追踪"),
    # synthetic entries of `custos bench api` (custos.bench.api.pad_audit_log), never in production
    "bench": _("基准测试填充"),
}

OUTCOMES: dict[str, object] = {
    "ok": _("成功"),
    "empty": _("无记录"),
    "denied": _("拒绝"),
    "blocked": _("已阻止"),
    "failed": _("失败"),
    "refused": _("未执行"),
}


class UnknownAction(ValueError):
    """An audit entry with an action or outcome that custos.audit.actions does not register."""


def validate(action: str, outcome: str) -> None:
    if action not in ACTIONS:
        raise UnknownAction(
            f"audit action {action!r} is not registered: add it to custos/audit/actions.py (ACTIONS)"
        )
    if outcome not in OUTCOMES:
        raise UnknownAction(
            f"audit outcome {outcome!r} is not registered: add it to custos/audit/actions.py (OUTCOMES)"
        )


# The objects entries name (AuditEntry.model), as pages show them; a model not here shows its name.
MODELS: dict[str, object] = {
    "party": _("客户"),
    "policy": _("保单"),
    "finding": _("问题"),
    "load": _("数据册"),
    "book_load": _("数据册"),
    "keyring": _("密钥环"),
    "audit": _("审计日志"),
    "screening": _("投保筛查"),
    "integrity": _("完整性标签"),
    "extraction": _("数据提取"),
    "evidence": _("证明材料"),
    "correction": _("更正"),
    "alert": _("安全告警"),
    "task": _("整改任务"),
    "sample": _("抽检"),
    "letterbatch": _("信函批次"),
    "profile": _("用户权限"),
    "user": _("用户"),
}


# Fields entries name that are not the book's (custos.book.labels.FIELD_LABELS has those).
FIELDS: dict[str, object] = {
    "value": _("取值"),
    "old_value": _("原值"),
    "new_value": _("新值"),
    "proposed": _("建议值"),
    "file": _("文件"),
    "findings": _("问题"),
    "errors": _("错误"),
    "warnings": _("警告"),
    "action": _("操作"),
    "status": _("状态"),
    "reason": _("原因"),
}


def action_choices() -> list[tuple[str, str]]:
    return [(a, str(label)) for a, label in ACTIONS.items()]


def outcome_choices() -> list[tuple[str, str]]:
    return [(o, str(label)) for o, label in OUTCOMES.items()]
