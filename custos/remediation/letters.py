"""Letters: customer confirmation letters (PDF, Chinese, WeasyPrint with the embedded 'Noto Sans CJK SC')
and notices to partner outlets (PDF and XLSX). Personal data is read through the access service:
masked, and the read logged before anything is rendered — except the addressee's name, which a
letter to the customer carries in full (its read is logged too: addressee_names). The letterhead,
hotline and return address come from settings.CUSTOS_COMPANY."""

from __future__ import annotations

import io

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.book.models import Partner, Party
from custos.domain.spreadsheet import neutralise
from custos.remediation import services as svc
from custos.remediation.models import LetterBatch, Task

FIELD_ZH = {
    "name": "姓名", "gender": "性别", "birth_date": "出生日期", "id_type": "证件类型", "id_no": "证件号码",
    "id_valid_until": "证件有效期", "mobile": "手机号码", "phone": "固定电话", "address": "联系地址",
    "postcode": "邮政编码", "email": "电子邮箱", "relation": "与投保人关系", "parties": "投保人/被保险人",
}  # fmt: skip
CONSEQUENCES = (
    "逾期未完成更正的保单，按合作协议暂停结算相关手续费；已结算的予以扣回；拒不配合的，"
    "公司将依约终止合作关系，并依据《人身保险客户信息真实性管理暂行办法》（保监发〔2013〕82号）处理。"
)


def _pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def customer_letters(ctx, task_ids, user, *, batch: LetterBatch | None = None) -> tuple[LetterBatch, bytes]:
    """One letter per task (a page each) asking the customer to confirm or correct their details; a new
    batch, or `batch` generated again (for printing once more)."""
    tasks = list(svc.scoped_tasks(ctx).filter(pk__in=task_ids).exclude(status="closed").order_by("policy_no"))
    if not tasks:
        raise svc.RemediationError(_("没有可生成信函的任务。"))
    from django.db.models import Q

    q = Q()
    for t in tasks:
        q |= Q(policy_no=t.policy_no, role=t.role, seq=t.seq)
    parties = {
        (r["policy_no"], r["role"], r["seq"]): r
        for r in ctx.read_parties(Party.objects.filter(q), action="letter", limit=len(tasks))
    }
    names = addressee_names(ctx, Party.objects.filter(q), len(tasks))
    letters = []
    for t in tasks:
        p = parties.get((t.policy_no, t.role, t.seq), {})
        p = {**p, "full_name": names.get((t.policy_no, t.role, t.seq), "")}
        fields = sorted(
            {f for f in t.links.filter(finding__status="open").values_list("finding__field", flat=True)}
        )
        letters.append(
            {"task": t, "party": p, "fields": [(FIELD_ZH.get(f, f), p.get(f, "")) for f in fields]}
        )
    html = render_to_string(
        "remediation/letter_customer.html",
        {"letters": letters, "today": timezone.localdate(), "company": company()},
    )
    if batch is None:
        batch = LetterBatch.objects.create(kind="customer", created_at=timezone.now(), created_by=user,
                                           task_ids=[t.pk for t in tasks], count=len(tasks))  # fmt: skip
    return batch, _pdf(html)


def company() -> dict:
    """The letterhead: the company's name, hotline and return address (settings.CUSTOS_COMPANY)."""
    return dict(getattr(settings, "CUSTOS_COMPANY", {}))


def addressee_names(ctx, queryset, limit: int) -> dict[tuple, str]:
    """The customers' full names for the letters' salutation and address: a letter goes to the
    customer, who must recognise it as theirs. Read within the viewer's scope, in the statement that
    checks each row's integrity tag, and recorded in the read log (fields ["name"], the purpose saying
    it is the letter's addressee) before it is returned — as every read of the access service."""
    from custos.access import readlog
    from custos.integrity import services as integrity

    scoped = queryset.filter(policy_no__in=ctx.policies().values("policy_no"))
    ids = list(scoped.order_by("policy_no", "role", "seq").values_list("pk", flat=True)[:limit])
    found = integrity.read_checked(ctx, Party, ids, ["policy_no", "role", "seq", "name"], "letter")
    readlog.append(user=ctx.user, staff_no=ctx.staff_no, action="letter", model="party", record_ids=ids,
                   fields=["name"], client=ctx.client, purpose="customer letter: the addressee's full name",
                   outcome="ok" if found else "empty")  # fmt: skip
    return {(r["policy_no"], r["role"], r["seq"]): r["name"] or "" for r in found.values()}


def partner_rows(ctx, partner_code: str) -> list[dict]:
    qs = (
        svc.scoped_tasks(ctx).filter(partner_code=partner_code).exclude(status="closed").order_by("policy_no")
    )
    from custos.book.labels import ROLE_LABELS, label

    return [
        {
            "policy_no": t.policy_no,
            "role": label(ROLE_LABELS, t.role),
            "checks": t.checks,
            "due_on": t.due_on,
            "status": t.get_status_display(),
        }
        for t in qs[:5000]
    ]


def partner_notice(
    ctx, partner_code: str, user, fmt: str = "pdf", *, batch: LetterBatch | None = None
) -> tuple[LetterBatch, bytes]:
    """Notice to a partner outlet: its defective policies, the deadline, the consequences. Written
    in Chinese whatever the sender's interface language: it goes to the outlet."""
    with translation.override("zh-hans"):
        return _partner_notice(ctx, partner_code, user, fmt, batch)


def _partner_notice(ctx, partner_code: str, user, fmt: str, batch: LetterBatch | None):
    rows = partner_rows(ctx, partner_code)
    partner = Partner.objects.filter(partner_code=partner_code).first()
    name = partner.name if partner else partner_code
    deadline = max((r["due_on"] for r in rows), default=timezone.localdate())
    if not rows:
        raise svc.RemediationError(_("该合作机构在您的范围内没有未关闭的任务。"))
    if batch is None:
        batch = LetterBatch.objects.create(kind="partner", created_at=timezone.now(), created_by=user,
                                           partner_code=partner_code, count=len(rows))  # fmt: skip
    if fmt == "xlsx":
        import xlsxwriter

        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, {"in_memory": True})
        ws = wb.add_worksheet("待更正保单")
        ws.write_row(0, 0, [neutralise(f"{name}：客户信息待更正保单清单，请于 {deadline} 前完成")])
        ws.write_row(1, 0, ["保单号", "角色", "问题代码", "截止日期", "状态"])
        for i, r in enumerate(rows, start=2):
            ws.write_row(
                i, 0, [neutralise(r["policy_no"]), r["role"], r["checks"], str(r["due_on"]), r["status"]]
            )
        ws.write_row(len(rows) + 3, 0, [CONSEQUENCES])
        wb.close()
        return batch, buf.getvalue()
    html = render_to_string("remediation/letter_partner.html", {
        "name": name, "rows": rows, "deadline": deadline, "consequences": CONSEQUENCES, "today": timezone.localdate(),
    })  # fmt: skip
    return batch, _pdf(html)


def partners_with_open_tasks(ctx) -> list[tuple[str, str]]:
    """(code, 某银行天河支行（BK1）) of the outlets with open tasks in scope, by name."""
    from custos.book.labels import org_label

    codes = list(
        svc.scoped_tasks(ctx).exclude(status="closed").exclude(partner_code="")
        .values_list("partner_code", flat=True).distinct().order_by("partner_code")
    )  # fmt: skip
    return sorted(((c, org_label("partner", c)) for c in codes), key=lambda x: (x[1], x[0]))


__all__ = ["customer_letters", "partner_notice", "Task"]
