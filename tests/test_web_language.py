"""Chinese is the default whatever the browser asks for; the switcher's choice wins."""

import pytest

pytestmark = pytest.mark.django_db


def test_login_page_is_chinese_even_for_an_english_browser(client):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page.status_code == 200
    assert "登录" in page.content.decode()


def test_language_cookie_switches_to_english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Log in" in page.content.decode()


def test_unknown_cookie_value_falls_back_to_chinese(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert "登录" in client.get("/login/").content.decode()
