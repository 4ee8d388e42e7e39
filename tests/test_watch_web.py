"""The alert queue, a staff member's day (timeline against peers) and triage, in both languages."""

import datetime as dt

import pytest

from custos.access.models import Role
from custos.audit.models import ChangeEvent
from custos.watch import ingest
from custos.watch.models import AccessAlert
from tests.conftest import make_user

HEADER = "at,system,staff_no,partner_code,action,policy_no,query,rows,terminal\n"


@pytest.fixture
def alerted(small_book, custos_home, tmp_path, settings):
    settings.CUSTOS_OTP_REQUIRED = False
    f = tmp_path / "a.csv"
    f.write_text(HEADER + "".join(f"2026-03-0{d} 10:00:00,core,A1,,view,P1,,1,t\n" for d in (1, 2, 3)))
    ingest.ingest([f])
    sig = [{"name": "outside_portfolio", "value": 42, "threshold": 30, "z": 7.5, "own_median": 1}]
    return AccessAlert.objects.create(staff_no="A1", day=dt.date(2026, 3, 2), score=1.4, signals=sig)


def test_queue_staff_page_and_triage(client, alerted):
    client.force_login(make_user("it", Role.IT_SECURITY))
    page = client.get("/security/watch/").content.decode()
    assert (
        "访问异常告警" in page and "/security/watch/staff/A1/2026-03-02/" in page and "本人业务范围外" in page
    )
    day = client.get("/security/watch/staff/A1/2026-03-02/")
    html = day.content.decode()
    assert day.status_code == 200 and '<svg id="timeline"' in html and "<polyline" in html
    # one read on each of three days: the reads line has three points above the baseline
    assert "z=7.5" in html
    bad = client.post("/security/watch/staff/A1/2026-03-02/", {"verdict": "true"})
    assert bad.status_code == 200 and "field-error" in bad.content.decode()
    ok = client.post("/security/watch/staff/A1/2026-03-02/", {"verdict": "false", "note": "值班，已核实"})
    assert ok.status_code == 302
    alerted.refresh_from_db()
    assert alerted.status == "false" and alerted.triaged_by == "it"
    assert ChangeEvent.objects.filter(action="watch.triaged", object_id=str(alerted.pk)).exists()
    assert "没有符合条件" in client.get("/security/watch/").content.decode()  # no open alert left
    assert "/security/watch/staff/A1/" in client.get("/security/watch/?show=all").content.decode()


def test_no_alert_day_and_refusals(client, alerted):
    client.force_login(make_user("co", Role.COMPLIANCE))
    r = client.post("/security/watch/staff/A1/2026-03-03/", {"verdict": "true", "note": "x"})
    assert r.status_code == 200 and "没有告警" in r.content.decode()
    empty = client.post("/security/watch/staff/A1/2026-03-03/", {})  # an empty form is still a POST
    assert empty.status_code == 200 and "没有告警" in empty.content.decode()
    assert client.get("/security/watch/staff/A1/not-a-day/").status_code == 404
    client.force_login(make_user("agent", Role.AGENT, staff_no="A1"))
    assert client.get("/security/watch/").status_code == 403
    assert (
        client.post("/security/watch/staff/A1/2026-03-02/", {"verdict": "true", "note": "x"}).status_code
        == 403
    )
    alerted.refresh_from_db()
    assert alerted.status == "open"


def test_english(client, alerted):
    client.force_login(make_user("it", Role.IT_SECURITY))
    client.cookies["django_language"] = "en"
    html = client.get("/security/watch/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Unusual access alerts" in html and "Outside own portfolio" in html


def test_violation_from_an_alert_is_prefilled(client, alerted):
    """The alert page's button opens discipline's form pre-filled (staff, day, signals, source); the
    source is checked on the server and kept as the case's evidence."""
    from custos.discipline.models import EvidenceLink, Violation

    client.force_login(make_user("co", Role.COMPLIANCE))
    day = client.get("/security/watch/staff/A1/2026-03-02/").content.decode()
    assert f"source=alert%3A{alerted.pk}" in day
    url = f"/discipline/new/?staff_no=A1&source=alert:{alerted.pk}"
    html = client.get(url).content.decode()
    assert 'value="A1"' in html and "2026-03-02" in html and "本人业务范围外 42" in html
    assert f'name="source" value="alert:{alerted.pk}"' in html
    assert client.get("/discipline/new/?source=alert:999999").status_code == 404
    assert client.get("/discipline/new/?source=nonsense").status_code == 404
    post = {"staff_no": "A2", "kind": "data_misuse", "summary": "x", "source": f"alert:{alerted.pk}"}
    assert "A1" in client.post("/discipline/new/", post).content.decode()  # the alert's staff only
    assert not Violation.objects.exists()
    r = client.post("/discipline/new/", post | {"staff_no": "A1"})
    v = Violation.objects.get()
    assert r.status_code == 302 and v.staff_no == "A1" and v.kind == "data_misuse"
    assert EvidenceLink.objects.filter(violation=v, ref=f"alert:{alerted.pk}").exists()
    # customer service may propose but not see alerts: the source is refused
    client.force_login(make_user("cs", Role.CUSTOMER_SERVICE))
    assert client.get(url).status_code == 404
    assert client.get("/discipline/new/?staff_no=A1").status_code == 200
