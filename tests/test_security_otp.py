"""The TOTP throttle (custos.access.otp): one mistyped code is corrected at once; repeated wrong codes
wait, and the page says how long (issue 18: "too many attempts" after one wrong code)."""

import datetime as dt

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from custos.access import otp
from custos.access.models import Role
from tests.conftest import make_user
from tests.test_security_signin import PASSWORD, code_for

pytestmark = [pytest.mark.django_db, pytest.mark.otp]


def _wrong(device) -> str:
    return "000000" if code_for(device) != "000000" else "111111"


def _signed_in(client, username="cs"):
    make_user(username, Role.CUSTOMER_SERVICE)
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    client.get("/otp/setup/")
    return TOTPDevice.objects.get(user__username=username)


def test_setup_one_wrong_code_then_the_right_one_at_once(client):
    device = _signed_in(client)
    html = client.post("/otp/setup/", {"token": _wrong(device)}).content.decode()
    assert "验证码不正确，请重试。" in html and "过多" not in html
    response = client.post("/otp/setup/", {"token": code_for(device), "next": "/parties/"})
    assert response.status_code == 302 and response["Location"] == "/parties/"
    device.refresh_from_db()
    assert device.confirmed and device.throttling_failure_count == 0


def test_verify_one_wrong_code_then_the_right_one_at_once(client):
    device = _signed_in(client)
    assert client.post("/otp/setup/", {"token": code_for(device)}).status_code == 302
    client.post("/logout/")
    client.post("/login/", {"username": "cs", "password": PASSWORD})
    device.refresh_from_db()
    html = client.post("/otp/verify/", {"token": _wrong(device)}).content.decode()
    assert "验证码不正确，请重试。" in html
    assert client.post("/otp/verify/", {"token": code_for(device, 1)}).status_code == 302
    assert client.get("/").status_code == 200


def test_repeated_wrong_codes_wait_and_say_how_long(client):
    device = _signed_in(client)
    for _ in range(otp.FREE_FAILURES - 1):
        assert (
            "验证码不正确，请重试。" in client.post("/otp/setup/", {"token": _wrong(device)}).content.decode()
        )
    html = client.post("/otp/setup/", {"token": _wrong(device)}).content.decode()
    assert f"请在 {otp.FIRST_WAIT} 秒后再试" in html
    # while waiting even the right code is not tried (a guesser learns nothing)
    html = client.post("/otp/setup/", {"token": code_for(device)}).content.decode()
    assert "秒后再试" in html
    device.refresh_from_db()
    assert not device.confirmed and device.throttling_failure_count == otp.FREE_FAILURES
    past = device.throttling_failure_timestamp - dt.timedelta(seconds=otp.FIRST_WAIT + 1)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=past)
    assert client.post("/otp/setup/", {"token": code_for(device)}).status_code == 302


def test_wait_doubles_and_is_capped():
    now = dt.datetime.now(dt.UTC)
    device = TOTPDevice(throttling_failure_count=otp.FREE_FAILURES + 1, throttling_failure_timestamp=now)
    assert otp.FIRST_WAIT * 2 - 1 <= otp.wait_seconds(device) <= otp.FIRST_WAIT * 2
    device.throttling_failure_count = 40
    assert otp.wait_seconds(device) <= otp.MAX_WAIT
    device.throttling_failure_count = otp.FREE_FAILURES - 1
    assert otp.wait_seconds(device) == 0
