"""Web pages: thin — parse the request, call a service, render."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from custos.access import search
from custos.access.capabilities import can, role_of
from custos.access.service import PARTY_FIELDS, AccessContext, ReadLogUnavailable, client_address
from custos.access.signals import record_request
from custos.book import load_errors
from custos.book.models import MODELS, BookLoad
from custos.core.uploads import UploadRejected, accept_upload
from custos.web.forms import LookupForm, PersonSearchForm, UploadForm

RUNNING = {BookLoad.Status.QUEUED, BookLoad.Status.VALIDATING, BookLoad.Status.WRITING}


def _load_context(request, load: BookLoad) -> dict:
    read, changes = load.row_counts or {}, load.change_counts or {}
    order = [t for t in MODELS if t in read] + sorted(set(read) - set(MODELS))
    counts = [
        {
            "table": t,
            "rows": read[t],
            **{k: (changes.get(t) or {}).get(k) for k in ("new", "updated", "gone")},
        }
        for t in order
    ]
    show_errors = can(request.user, "load.errors")
    errors = load_errors.shown_errors(load) if show_errors else []
    return {
        "load": load,
        "running": load.status in RUNNING,
        "show_errors": show_errors,
        # values of the book quoted in messages are masked; the full text is the audited report
        "errors": errors,
        "warnings": load_errors.shown_warnings(load),
        "note": load_errors.shown_note(load),
        "can_read_report": bool(load.errors or load.warnings) and can(request.user, "load.error_report"),
        "counts": counts,
        # masked values are still values of the book: the page carries the viewer's watermark
        "watermark": bool(errors),
    }


@login_required
def home(request):
    loads = BookLoad.objects.select_related("created_by")[:50]
    return render(
        request,
        "web/home.html",
        {
            "loads": loads,
            "can_upload": can(request.user, "book.upload"),
            "has_profile": role_of(request.user) is not None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    if not can(request.user, "book.upload"):
        raise PermissionDenied(_("只有合规与信息安全角色可以上传数据册。"))
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            load = accept_upload(form.cleaned_data["file"], user=request.user, mode=form.cleaned_data["mode"])
        except UploadRejected as exc:
            form.add_error("file", str(exc))
            status = exc.status
        else:
            record_request("upload", request, model="load", record_ids=[load.pk], purpose=load.source_name)
            return redirect("load", pk=load.pk)
    elif request.method == "POST":
        status = 400
    return render(request, "web/upload.html", {"form": form}, status=status)


@login_required
def load_detail(request, pk: int):
    load = get_object_or_404(BookLoad, pk=pk)
    return render(request, "web/load.html", _load_context(request, load))


@login_required
def load_status(request, pk: int):
    """The progress / result fragment, polled every second by htmx while the load runs."""
    load = get_object_or_404(BookLoad, pk=pk)
    return render(request, "web/_load_status.html", _load_context(request, load))


@login_required
def load_error_report(request, pk: int):
    """The load's errors with the book's values in clear, for IT security and compliance; every
    view is an audit entry (custos.book.load_errors.error_report)."""
    load = get_object_or_404(BookLoad, pk=pk)
    try:
        report = load_errors.error_report(request.user, load, client=client_address(request))
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    return render(request, "web/load_errors.html", {"load": load, "report": report, "watermark": True})


LOOKUP_SESSION_KEY = "custos_lookup_searches"
LOOKUP_KEPT = 10  # searches on persons a session keeps (for paging and the way back from unmasking)
LOOKUP_AD = "web.lookup"


def _remember(request, criteria: search.Criteria) -> str:
    """Keep a search on persons in the session, sealed, under a random token the URLs carry instead."""
    import secrets

    from custos.crypto.fields import keys

    k = keys()
    token = secrets.token_urlsafe(12)
    kept = dict(request.session.get(LOOKUP_SESSION_KEY) or {})
    kept[token] = {
        "id_no": k.seal(criteria.id_no, LOOKUP_AD),
        "mobile": k.seal(criteria.mobile, LOOKUP_AD),
        "name": k.seal(criteria.name, LOOKUP_AD),
        "birth_date": k.seal(criteria.birth_date.isoformat() if criteria.birth_date else "", LOOKUP_AD),
    }
    request.session[LOOKUP_SESSION_KEY] = dict(list(kept.items())[-LOOKUP_KEPT:])
    return token


def _recall(request, token: str) -> search.Criteria | None:
    import datetime as dt

    from custos.crypto.fields import open_value

    stored = (request.session.get(LOOKUP_SESSION_KEY) or {}).get(token)
    if not stored:
        return None
    values = {k: open_value(v, LOOKUP_AD) if v else "" for k, v in stored.items()}
    birth = values.pop("birth_date")
    return search.Criteria(**values, birth_date=dt.date.fromisoformat(birth) if birth else None)


@login_required
@require_http_methods(["GET", "POST"])
def party_lookup(request):
    """Every role's policies and customers in scope, a page at a time, and the search: policy number
    (GET, any case), or ID number, mobile, name with birth date (POST, kept in the session under a
    token). Masked; every page is a read entry of the audit log (custos.access.search)."""
    form = LookupForm(request.GET or None)
    person_form = PersonSearchForm(request.POST or None)
    criteria, token, status, expired = search.Criteria(), "", 200, False
    number = request.GET.get("page") or 1
    if request.method == "POST":
        number = 1
        if person_form.is_valid():
            criteria = search.Criteria(**person_form.cleaned_data)
            token = _remember(request, criteria)
        else:
            status = 400
    elif request.GET.get("s"):
        token = request.GET["s"][:64]
        criteria = _recall(request, token)
        if criteria is None:
            criteria, token, expired = search.Criteria(), "", True
    elif form.is_valid() and form.cleaned_data["policy_no"]:
        criteria = search.Criteria(policy_no=form.cleaned_data["policy_no"])
    found = None
    if status == 200:
        try:
            found = search.page(AccessContext.for_request(request), criteria, number)
        except ReadLogUnavailable:
            return render(request, "web/audit_unavailable.html", status=503)
    query = {"s": token} if token else ({"policy_no": criteria.policy_no} if criteria.policy_no else {})
    here = dict(query, page=found.page.number) if found else query
    return render(
        request,
        "web/lookup.html",
        {
            "form": form,
            "person_form": person_form,
            "criteria": criteria.masked(),
            "searched": not criteria.empty,
            "expired": expired,
            "found": found,
            "query": urlencode(query),
            "back": reverse("party-lookup") + ("?" + urlencode(here) if here else ""),
            "fields": PARTY_FIELDS,
            "watermark": True,
            "can_unmask": can(request.user, "unmask"),
        },
        status=status,
    )


def forbidden(request, exception=None):
    return render(request, "web/403.html", {"reason": str(exception or "")}, status=403)
