"""Leak cases (泄露案件溯源): upload a leaked file, see who could have leaked it, its PDF.

Thin: check the upload, call custos.watch.tracing.service, render. Holders of `leak.trace` only
(compliance, IT security); a case that does not exist is a 404. The matched records are shown masked;
suspects by name and code with their scores and the reads or extractions behind them.
"""

from __future__ import annotations

import secrets
import shutil
from io import BytesIO
from pathlib import Path

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from custos.access.capabilities import require
from custos.access.service import client_address
from custos.audit.service import AuditWriteError
from custos.watch.sources import violation_url
from custos.watch.tracing import service as svc
from custos.watch.tracing.leakfile import SUFFIXES

ACTION_LABELS = {"view": _l("查看"), "search": _l("查询"), "print": _l("打印"), "export": _l("导出")}
KIND_LABELS = {"staff": _l("员工"), "partner": _l("合作网点"), "extraction": _l("数据提取")}


class UploadForm(forms.Form):
    file = forms.FileField(label=_l("泄露文件（CSV 或 XLSX）"))
    note = forms.CharField(
        label=_l("案件说明"), max_length=500, required=False, help_text=_l("在何处发现、案件编号等")
    )

    def clean_file(self):
        from custos.extraction import conf

        f = self.cleaned_data["file"]
        if Path(f.name or "").suffix.lower() not in SUFFIXES:
            raise forms.ValidationError(_("只能追查 CSV 或 XLSX 文件。"))
        if f.size > conf.trace_max_bytes():
            raise forms.ValidationError(
                _("文件超过泄露溯源的大小上限（%(limit)s MB）。")
                % {"limit": conf.trace_max_bytes() // 1_000_000}
            )
        return f


def _store(upload) -> Path:
    """The upload in a private folder under CUSTOS_HOME (deleted once traced)."""
    from custos import paths

    folder = paths.home() / "watch" / "trace-uploads" / secrets.token_hex(16)
    folder.mkdir(mode=0o700, parents=True)
    target = folder / ("leak" + Path(upload.name).suffix.lower())
    with open(target, "xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return target


@login_required
def cases(request):
    require(request.user, "leak.trace")
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            path = _store(upload)
            try:
                case = svc.trace_file(
                    path,
                    user=request.user,
                    client=client_address(request),
                    note=form.cleaned_data["note"],
                    name=Path(upload.name).name,
                )
            except svc.LeakFileError as exc:
                form.add_error("file", str(exc).replace("leak" + path.suffix, Path(upload.name).name))
                status = 400
            except AuditWriteError:
                form.add_error(None, _("审计日志不可用，溯源结果未保存。"))
                status = 503
            else:
                return redirect("watch-trace-case", pk=case.pk)
            finally:
                shutil.rmtree(path.parent, ignore_errors=True)
        else:
            status = 400
    listed = svc.visible_cases(request.user)[:50]
    return render(request, "watch/trace_list.html", {"form": form, "cases": listed}, status=status)


def _case(request, pk: int):
    require(request.user, "leak.trace")
    case = svc.visible_cases(request.user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if case is None:
        raise Http404
    return case


def context(case) -> dict:
    suspects = []
    for i, s in enumerate(case.suspects):
        ev = s.get("evidence", {})
        suspects.append(
            {
                **s,
                "rank": i + 1,
                "kind_label": KIND_LABELS.get(s["kind"], s["kind"]),
                "ev": ev,
                "reads": [
                    {**r, "action_label": ACTION_LABELS.get(r["action"], r["action"])}
                    for r in ev.get("reads_shown", [])
                ],
                "actions": [(ACTION_LABELS.get(a, a), n) for a, n in ev.get("actions", {}).items()],
                "canaries": len(ev.get("canaries", [])),
            }
        )
    r = case.result
    return {
        "case": case,
        "suspects": suspects[:20],
        "more": max(0, len(suspects) - 20),
        "records": r.get("records", []),
        "columns": r.get("columns", {}),
        "objects": r.get("objects", 0),
        "weak": r.get("weak", 0),
    }


@login_required
def case_detail(request, pk: int):
    case = _case(request, pk)
    ctx = context(case)
    ctx["violation_url"] = violation_url(request.user, svc.violation_staff_no(case.top), f"trace:{case.pk}")
    return render(request, "watch/trace_case.html", ctx)


@login_required
def case_pdf(request, pk: int):
    case = _case(request, pk)
    data = svc.pdf_bytes(case, context(case))
    return FileResponse(BytesIO(data), content_type="application/pdf", filename=f"leak-case-{case.pk}.pdf")
