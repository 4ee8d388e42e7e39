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


def _chinese_messages():
    """Every Chinese message the app marks for translation: {% translate "…" %} in templates,
    _("…") / gettext("…") / gettext_lazy("…") in Python (adjacent literals joined, as Python joins them)."""
    import re
    from pathlib import Path

    import custos

    # Python: one literal or several adjacent ones (implicit concatenation across lines)
    literals = r'((?:"[^"\n]+"\s*)+)'
    pattern = re.compile(rf'(?:translate|trans)\s+"([^"]+)"|\b_\(\s*{literals}|gettext(?:_lazy)?\(\s*{literals}')
    root = Path(custos.__file__).parent
    for path in sorted([*root.rglob("*.html"), *root.rglob("*.py")]):
        if "migrations" in path.parts:
            continue
        for m in pattern.finditer(path.read_text(encoding="utf-8")):
            text = m.group(1) or "".join(re.findall(r'"([^"\n]*)"', m.group(2) or m.group(3)))
            if re.search(r"[\u4e00-\u9fff]", text):
                if (
                    path.suffix == ".html"
                ):  # a template's literal is looked up with % doubled (Django's Variable)
                    text = text.replace("%", "%%")
                yield path.relative_to(root), text


def test_every_chinese_message_has_an_english_translation():
    from django.utils import translation

    with translation.override("en"):
        missing = sorted({f"{p}: {t}" for p, t in _chinese_messages() if translation.gettext(t) == t})
    assert not missing, "no English translation for:\n" + "\n".join(missing)


def test_no_translation_is_its_own_text_repeated():
    """A merge once left two English messages written out five times over (msgstr + continuation
    lines repeating it); every compiled catalogue is read back and checked."""
    import gettext
    from pathlib import Path

    import custos

    bad = []
    for mo in Path(custos.__file__).parent.rglob("django.mo"):
        with mo.open("rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        for msgid, text in catalog.items():
            if not isinstance(text, str) or len(text) < 8:
                continue
            for n in range(4, len(text) // 2 + 1):
                if len(text) % n == 0 and text[:n] * (len(text) // n) == text:
                    bad.append(f"{mo}: {msgid!r}")
                    break
    assert not bad, "\n".join(bad)
