"""Load errors quote values of the book: people see them masked, IT security reads them in full
through an audited read (issue 16, item 7). On SQLite and PostgreSQL like every test."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from django.db import connection

from custos.access.models import Role
from custos.api.models import ApiToken
from custos.audit.models import AuditEntry
from custos.book.loader.errors import shown
from custos.book.models import BookLoad
from custos.book.services import load_book
from custos.domain import masking
from tests.conftest import make_user
from tests.test_access_service import _block_read_log_inserts

BASIC = Path(__file__).parent / "books" / "basic"
pytestmark = pytest.mark.django_db

ID_IN_BIRTH_DATE = "440106199001011234"  # a customer's ID number in the birth-date column
MOBILE_IN_ISSUED_ON = "13800138000"  # a mobile in a policy's date column (a shifted export)
ID_AS_HEADER = "440106199001015678"  # a data row read as the header: an extra column named by an ID
RAW = (ID_IN_BIRTH_DATE, MOBILE_IN_ISSUED_ON, ID_AS_HEADER)


def _edit(book: Path, table: str, edit) -> None:
    with open(book / f"{table}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with open(book / f"{table}.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def _set(rows, row: int, column: str, value: str) -> None:
    rows[row - 1][rows[0].index(column)] = value


@pytest.fixture
def failed_load(tmp_path, custos_home) -> BookLoad:
    book = tmp_path / "book"
    shutil.copytree(BASIC, book)
    _edit(book, "parties", lambda rows: _set(rows, 2, "birth_date", ID_IN_BIRTH_DATE))

    def policies(rows):
        _set(rows, 3, "issued_on", MOBILE_IN_ISSUED_ON)
        for i, r in enumerate(rows):
            r.append(ID_AS_HEADER if i == 0 else "x")

    _edit(book, "policies", policies)
    load = load_book(book)
    assert load.status == "failed"
    return load


def _masked() -> tuple[str, str, str]:
    return (
        masking.mask_field("birth_date", ID_IN_BIRTH_DATE),
        masking.mask_field("mobile", MOBILE_IN_ISSUED_ON),
        masking.mask_field("id_no", ID_AS_HEADER),
    )


def _bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'test')[1]}"}


def _reads(load: BookLoad) -> list[AuditEntry]:
    return [e for e in AuditEntry.objects.filter(action="load_errors") if load.pk in json.loads(e.record_ids)]


def test_errors_keep_the_value_apart_and_the_command_output_is_unchanged(failed_load):
    by_column = {e["column"]: e for e in failed_load.errors}
    e = by_column["birth_date"]
    assert e["code"] == "not_date" and e["value"] == ID_IN_BIRTH_DATE
    assert e["message"] == f"{ID_IN_BIRTH_DATE!r} is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)"
    assert shown(e)["message"] == (
        f"{masking.mask_field('birth_date', ID_IN_BIRTH_DATE)!r} is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)"
    )
    assert by_column["issued_on"]["value"] == MOBILE_IN_ISSUED_ON
    assert any(w["column"] == ID_AS_HEADER for w in failed_load.warnings)


def test_stored_sealed(failed_load):
    table = connection.ops.quote_name(BookLoad._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT errors, warnings FROM {table} WHERE id = %s", [failed_load.pk])
        stored = " ".join(str(v) for v in cur.fetchone())
    for raw in RAW:
        assert raw not in stored


def test_page_and_api_show_masked_values(client, failed_load):
    user = make_user("co", Role.COMPLIANCE)
    client.force_login(user)
    bodies = [
        client.get(f"/loads/{failed_load.pk}/").content.decode(),
        client.get(f"/loads/{failed_load.pk}/status/").content.decode(),
        client.get(f"/api/v1/loads/{failed_load.pk}", **_bearer(user)).content.decode(),
        client.get("/api/v1/loads", **_bearer(user)).content.decode(),
    ]
    birth, mobile, header = _masked()
    for body in bodies:
        for raw in RAW:
            assert raw not in body
    page, _status, api, _list = bodies
    assert birth in page and mobile in page
    assert f"/loads/{failed_load.pk}/errors/" in page  # compliance may read the report
    detail = client.get(f"/api/v1/loads/{failed_load.pk}", **_bearer(user)).json()
    messages = " ".join(e["message"] for e in detail["errors"])
    assert birth in messages and mobile in messages
    assert {"not_date"} <= {e["code"] for e in detail["errors"]}
    assert any(w["column"] == header for w in detail["warnings"])
    assert not _reads(failed_load)  # masked messages are not the audited report


def test_it_security_reads_the_full_report_and_it_is_audited(client, failed_load):
    user = make_user("sec", Role.IT_SECURITY, staff_no="S9")
    client.force_login(user)
    html = client.get(f"/loads/{failed_load.pk}/errors/").content.decode()
    assert ID_IN_BIRTH_DATE in html and MOBILE_IN_ISSUED_ON in html and ID_AS_HEADER in html
    [entry] = _reads(failed_load)
    assert entry.username == "sec" and entry.staff_no == "S9" and entry.model == "load"
    body = client.get(f"/api/v1/loads/{failed_load.pk}/error-report", **_bearer(user)).json()
    assert body["error_count"] == failed_load.error_count
    assert any(e["message"].startswith(repr(ID_IN_BIRTH_DATE)) for e in body["errors"])
    assert len(_reads(failed_load)) == 2


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.AGENT, Role.CUSTOMER_SERVICE])
def test_other_roles_cannot_read_the_report(client, failed_load, role):
    user = make_user("u", role, staff_no="A1")
    client.force_login(user)
    page = client.get(f"/loads/{failed_load.pk}/errors/")
    api = client.get(f"/api/v1/loads/{failed_load.pk}/error-report", **_bearer(user))
    assert page.status_code == 403 and api.status_code == 403
    for raw in RAW:
        assert raw not in page.content.decode() and raw not in api.content.decode()
    assert f"/loads/{failed_load.pk}/errors/" not in client.get(f"/loads/{failed_load.pk}/").content.decode()
    assert not _reads(failed_load)


def test_report_fails_closed_without_the_read_log(client, failed_load):
    user = make_user("sec", Role.IT_SECURITY)
    client.force_login(user)
    auth = _bearer(user)
    _block_read_log_inserts()
    page = client.get(f"/loads/{failed_load.pk}/errors/")
    api = client.get(f"/api/v1/loads/{failed_load.pk}/error-report", **auth)
    assert page.status_code == 503 and api.status_code == 503
    for raw in RAW:
        assert raw not in page.content.decode() and raw not in api.content.decode()


def test_errors_stored_before_values_were_kept_apart_are_masked(client):
    load = BookLoad.objects.create(
        source_name="old.zip",
        sha256="0" * 64,
        status="failed",
        error_count=2,
        errors=[
            {
                "file": "parties.csv",
                "row": 2,
                "column": "birth_date",
                "message": f"{ID_IN_BIRTH_DATE!r} is not a date",
            },
            {
                "file": "policies.csv",
                "row": 3,
                "column": "issued_on",
                "message": f"{MOBILE_IN_ISSUED_ON!r} is not a date",
            },
        ],
    )
    user = make_user("co", Role.COMPLIANCE)
    client.force_login(user)
    for body in (
        client.get(f"/loads/{load.pk}/").content.decode(),
        client.get(f"/api/v1/loads/{load.pk}", **_bearer(user)).content.decode(),
    ):
        assert ID_IN_BIRTH_DATE not in body and MOBILE_IN_ISSUED_ON not in body
        assert masking.mask_field("birth_date", ID_IN_BIRTH_DATE) in body
