"""The errors and warnings of a load: masked for the people who may see them, in full for IT security.

Errors quote values of the book (`'440106199001011234' is not a date`). They are stored sealed on the
BookLoad with each value kept apart from its message (custos.book.loader.errors.Issue); pages and the
API show `shown_errors` (the value masked by its column, rendered now, so better masks apply to old
loads too). The full text is the report for the holders of `load.error_report` (IT security,
compliance), read through `error_report`: an audited read, appended to the tamper-evident log before
anything is returned (ReadLogUnavailable: nothing is).
"""

from custos.access import readlog
from custos.access.capabilities import profile_of, require
from custos.book.loader.errors import scrub, shown
from custos.book.models import BookLoad


def shown_errors(load: BookLoad) -> list[dict]:
    """[{file,row,column,code,message}] with every value of the book masked."""
    return [shown(e) for e in load.errors or []]


def shown_warnings(load: BookLoad) -> list[dict]:
    return [shown(w) for w in load.warnings or []]


def shown_note(load: BookLoad) -> str:
    """The progress note (the reason of a load that broke may quote a value): digit runs masked."""
    return scrub(load.progress_note)


def _full(issue) -> dict:
    if not isinstance(issue, dict):
        return {"file": "", "row": None, "column": None, "code": "", "message": str(issue)}
    return {
        "file": issue.get("file") or "",
        "row": issue.get("row"),
        "column": issue.get("column"),
        "code": issue.get("code") or "",
        "message": issue.get("message") or "",
    }


def error_report(user, load: BookLoad, *, client: str = "") -> dict:
    """The load's errors and warnings as the loader wrote them, values in clear.

    PermissionDenied without `load.error_report`; every read is an audit entry (action
    "load_errors", the load's id) appended first: ReadLogUnavailable means nothing is returned."""
    require(user, "load.error_report")
    profile = profile_of(user)
    errors = [_full(e) for e in load.errors or []]
    warnings = [_full(w) for w in load.warnings or []]
    readlog.append(
        user=user,
        staff_no=profile.staff_no if profile else "",
        action="load_errors",
        model="load",
        record_ids=[load.pk],
        fields=["errors", "warnings"],
        client=client,
        outcome="ok" if errors or warnings else "empty",
    )
    return {"errors": errors, "warnings": warnings, "error_count": load.error_count}
