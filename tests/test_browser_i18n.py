"""Every page as every role in both languages reads in that language (issue 18).

In real Chromium against a live server, each role (custos.access.models.Role) signs in once per
language (zh-hans, en) and opens every GET page it may open: the URL patterns of Django's resolver
with their parameters filled from the fixture of tests/test_no_clear_values.py (build_world: the
small book, findings, tasks, a correction, samples, letters, a failed load, screenings, an
extraction, an unmask grant, an alert) and the query strings that make lists show records. The
visible text is read: document.body.innerText, the title, placeholders, title attributes, option
labels and button values (the watermark is left out: it is the viewer's own name and number).

- English pages: no Han character outside the fixture's own values. Customer data (names,
  addresses, masked or not), org names and what users typed are legitimately Chinese. Rather than
  marking every template cell that renders a value (which a new template would forget), the text is
  compared with the fixture: a Chinese token (a run between blanks and punctuation) passes only
  when it is part of a fixture value — with a mask's asterisks standing for any characters — and it
  holds two Han characters or an asterisk (a lone untranslated 是 or 否 is not excused by an
  address that happens to hold it). So a chrome string fails unless it literally sits inside one
  of the fixture's Chinese values, which the values below (names of people, branches, outlets,
  addresses, a purpose text) make unlikely.
- Chinese pages: no English code word: after the fixture's ASCII values (usernames, policy
  numbers, org codes) and data that is no word (DATA: masked values, e-mail addresses, file names,
  hashes, URLs) are taken out, no ASCII word may remain except those of ALLOWED_WORDS (file
  formats, protocol and brand names, units) and CODE_WORD (the catalogue's check codes, national
  standards). That covers the book format's codes (bancassurance, applicant, resident_id),
  snake_case identifiers (task_view, id_no), status words (Passed, Queued, certain, low) and English
  messages. UNREAD lists the few page parts that show code identifiers on purpose, with why.
- Both languages: no bare branch, partner or staff code: a table cell that holds such a code must
  hold its name too (广州中心支公司（GZ）, not GZ alone).

Each route is read with the first record that opens (PER_ROUTE: two loads, a loaded and a failed
one), plus one 403 and one 404 page per role. Each failure names the role, language, page and the
offending words; the test collects all of them before failing, so one run lists the whole work.
CUSTOS_I18N_ROLES=agent,auditor reads a subset of roles while fixing pages; CUSTOS_I18N_DUMP=dir
keeps each page's text.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from custos.access.capabilities import OUTSIDE_ROLES
from custos.access.models import Role
from tests.conftest import make_user
from tests.test_access_matrix import SCOPES
from tests.test_no_clear_values import PAGE_GETS, build_world, fillings, page_routes

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]

LANGUAGES = ["zh-hans", "en"]
# a folder: keep each page's text there for a human to read
DUMP = Path(os.environ["CUSTOS_I18N_DUMP"]) if os.environ.get("CUSTOS_I18N_DUMP") else None

# Routes not opened, with the reason.
NOT_OPENED = {
    "logout/": "ends the session (POST only)",
    "i18n/setlang/": "the language switch (POST only)",
}
# Most admin routes answer the same redirect to the admin's sign-in for the roles' users (not
# staff); it is read once, at admin/.
ADMIN = "admin/"
# fillings read per route: a route with a record parameter shows the same template for each; a
# load's pages differ for a loaded and a failed one
PER_ROUTE = {"loads/<int:pk>/": 2, "loads/<int:pk>/status/": 2}
# Parts of a page left unread, with why: route → CSS selector.
UNREAD = {
    # the capability table is IT security's and auditors' reference to the code: its first and last
    # columns name capabilities, routes, API operations and commands as the code does, role codes
    # in the headers' tooltips
    "security/capabilities/": "td.mono, th[title]",
    # a load's errors name the column as the uploaded file spells it (its header, birth_date), for
    # finding it in the file (the label is the cell's tooltip), as do warnings (parties.csv:2:mobile)
    "loads/<int:pk>/": "tr[data-code] td:nth-child(3), ul.warnings span.mono",
    "loads/<int:pk>/status/": "tr[data-code] td:nth-child(3), ul.warnings span.mono",
    "loads/<int:pk>/errors/": "tr[data-code] td:nth-child(3), ul.warnings span.mono",
}

# ASCII words a Chinese page may show, with why. Keep it short: every entry is a word a Chinese
# reader of this product meets as such.
FORMATS = ("XLSX", "CSV", "PDF", "ZIP", "JSON", "PNG", "JPEG", "Parquet")
ALLOWED_WORDS = {
    *FORMATS,  # file formats, protocols and standards, written so in Chinese software
    *("API", "OpenAPI", "HTTP", "HTTPS", "URL", "SHA", "SHA1", "SHA256", "TOTP", "OTP", "Base32", "RFC"),
    "otpauth",  # the scheme of the link an authenticator app reads (otpauth 链接)
    *("ID", "HK"),  # ID types and ID numbers: ID 号, HK (the permit's prefix)
    "custos",  # the product's name
    *("Google", "Authenticator", "Microsoft"),  # authenticator apps named on the TOTP page
    "EN",  # the language switch names English so
    *("KB", "MB", "GB", "ms"),  # units
    *("YYYY", "MM", "DD", "YYYYMMDD"),  # how a date is written (日期格式 YYYY-MM-DD)
}
# Words that pass in any case: file extensions (.xlsx, .csv).
ALLOWED_ANY_CASE = {w.lower() for w in FORMATS}
# the check codes of the catalogue (ID10, PH02, AD04), always shown with their title; national
# standards by number (GB 11643, GB/T 2260)
CODE_WORD = re.compile(r"^(?:[A-Z]{2}\d{2}|GB\d*|T)$")
# Data that is no word: masked values, hashes and key ids, TOTP secrets, otpauth:// and other URLs, e-mail addresses, file names
DATA = re.compile(
    r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b|\b[A-Z2-7]{16,}\b|\b[a-z]+://\S+|\S*@\S+"
    r"|\b[\w-]+\.(?:csv|xlsx|parquet|zip|pdf|json)\b"  # a file's name (parties.csv in a load's errors)
    r"|\b[\w/]+\.py\b"  # a source file named as the place a rule lives (custos/access/capabilities.py)
    r"|\S*\*\S*"  # a masked value (M*****075, l***@example.net)
    r"|\bP[0-9]{8}\b"  # a person id (custos.identity: P00000012)
)
# Chinese an English page may show besides the fixture's values.
ALLOWED_HAN = {
    *("简体中文", "中文"),  # the language switch names Chinese in Chinese
    *("无", "不详", "同上"),  # the placeholder values AD02 looks for, quoted in its English title
}

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# a token of an English page: a run between blanks and (ASCII or CJK) punctuation; '*' stays in it
TOKEN_SPLIT = re.compile(r"[\s,.;:!?()\[\]{}<>\"'/|·、，。；：！？（）【】《》「」“”‘’—…·\-]+")
ASCII_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*(?![A-Za-z0-9_])")

TEXT_JS = """(unread) => {
  const hidden = [...document.querySelectorAll('.watermark, .brand-mark' + (unread ? ', ' + unread : ''))];
  hidden.forEach(el => el.style.display = 'none');
  const parts = [document.title, document.body.innerText];
  hidden.forEach(el => el.style.display = '');
  const shown = el => !hidden.some(h => h.contains(el));
  const attr = (sel, name) => document.querySelectorAll(sel).forEach(el => shown(el) && parts.push(el.getAttribute(name)));
  attr('[placeholder]', 'placeholder');
  attr('[title]', 'title');
  attr('[aria-label]', 'aria-label');
  document.querySelectorAll('option').forEach(el => parts.push(el.label || el.textContent));
  document.querySelectorAll('input[type=submit],input[type=button]').forEach(el => parts.push(el.value));
  return parts.filter(Boolean).join('\\n');
}"""


# --- what the fixture itself holds ------------------------------------------------------------------


def fixture_values() -> tuple[list[str], list[str], dict[str, str]]:
    """(Chinese values, ASCII values, org code → name): everything of the fixture a page may show as
    data: the book's names and addresses, org names, users, policy numbers, file names, what users
    typed (purposes, reasons)."""
    from django.contrib.auth import get_user_model

    from custos.book.models import Branch, Partner, Party, Policy, Staff

    texts: set[str] = set()
    orgs: dict[str, str] = {}
    for model, code, fields in [
        (Branch, "branch_code", ["name"]),
        (Partner, "partner_code", ["name"]),
        (Staff, "staff_no", ["name"]),
    ]:
        for row in model.objects.all():
            orgs[getattr(row, code)] = row.name
            texts |= {getattr(row, f) for f in fields}
    for p in Party.objects.all():
        texts |= {p.name, p.address, p.email, p.mobile, p.phone, p.id_no}
    texts |= set(Policy.objects.values_list("policy_no", flat=True))
    texts |= set(get_user_model().objects.values_list("username", flat=True))
    texts |= _typed_values()
    texts = {t for t in texts if t}
    han = sorted(t for t in texts if HAN.search(t))
    ascii_ = sorted((t for t in texts if not HAN.search(t)), key=len, reverse=True)
    return han, ascii_, orgs


def _typed_values() -> set[str]:
    """Free text and names the fixture's users and systems typed or uploaded."""
    from custos.book.models import BookLoad
    from custos.extraction.models import Extraction, LeakTrace
    from custos.screening.models import Client as System
    from custos.screening.models import Screening

    out = set(BookLoad.objects.values_list("source_name", flat=True))
    out |= set(LeakTrace.objects.values_list("source_name", flat=True))
    for e in Extraction.objects.all():
        out |= {e.purpose, e.justification}
    out |= set(System.objects.values_list("name", flat=True))
    for s in Screening.objects.all():  # the applications screened online
        out |= {s.application_id, s.policy_no}
    out |= {
        "walk",
        "R1",
        "R-walk",
        "e.pdf",
        "leak.csv",
        "客户回访核实名单",
        "回访核实客户联系方式是否真实有效",
    }
    return {o for o in out if o}


# --- reading a page ---------------------------------------------------------------------------------


def han_problems(text: str, han_values: list[str]) -> list[str]:
    bad = []
    for token in TOKEN_SPLIT.split(text):
        token = token.strip("*") if not HAN.search(token.strip("*")) else token
        if not HAN.search(token) or token in ALLOWED_HAN:
            continue
        if _is_value(token, han_values):
            continue
        bad.append(token)
    return bad


def _is_value(token: str, values: list[str]) -> bool:
    if len(HAN.findall(token)) < 2 and "*" not in token:
        return False
    # a masked value: asterisks stand for what the mask hides
    pattern = re.compile(".*".join(re.escape(part) for part in re.split(r"\*+", token)))
    return any(pattern.search(v) for v in values)


def ascii_problems(text: str, ascii_values: list[str]) -> list[str]:
    text = DATA.sub(" ", text)
    for v in ascii_values:
        # as typed: a policy number searched in lower case (p3) is the reader's own input
        text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(v)}(?![A-Za-z0-9_])", " ", text, flags=re.IGNORECASE)
    bad = []
    for word in ASCII_WORD.findall(text):
        if word in ALLOWED_WORDS or word.lower() in ALLOWED_ANY_CASE or CODE_WORD.match(word):
            continue
        bad.append(word)
    return bad


def bare_codes(text: str, orgs: dict[str, str]) -> list[str]:
    """Org codes shown without their name: per table cell (innerText puts a tab between cells). A
    name shows in full (branches, outlets) or masked (staff: 业*, custos.book.labels), so a cell
    passes when it holds a Han character of the name."""
    bad = []
    for line in text.splitlines():
        for cell in line.split("\t"):
            for code, name in orgs.items():
                if re.search(rf"(?<![A-Za-z0-9_]){re.escape(code)}(?![A-Za-z0-9_])", cell) and not set(
                    name
                ) & set(HAN.findall(cell)):
                    bad.append(f"{code} (in {cell.strip()[:60]!r})")
    return bad


# --- the walk ---------------------------------------------------------------------------------------


def _routes(w) -> list[tuple[str, list[str]]]:
    """(route, paths to try): every GET route, every filling, and the query strings of PAGE_GETS."""
    out = [(ADMIN, ["/" + ADMIN])]
    for route in page_routes():
        if route.startswith(ADMIN) or route in NOT_OPENED:
            continue
        filled = fillings(route, w)
        assert filled is not None, f"{route}: no rule of tests/test_no_clear_values.py FILL fills it"
        queries = ["", *(q for q in PAGE_GETS.get(route, []) if "format=" not in q)]
        out.append((route, [path + q for path in filled for q in queries]))
    return out


def pages_of(user, routes) -> list[tuple[str, str]]:
    """The paths a role's browser reads, chosen in-process (no browser): for each route the first
    PER_ROUTE fillings that answer an HTML page (a route with a record parameter has many: the same
    template), one 403 and one 404 page; not POST-only routes (405), downloads, or redirects (the
    page redirected to is a route of its own)."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    out, errors = [(ADMIN, "/" + ADMIN)], set()
    for route, paths in routes:
        if route == ADMIN:
            continue
        kept = 0
        for path in paths:
            resp = client.get(path)
            if resp.status_code == 405:
                break  # POST only, whatever the record
            if "text/html" not in resp.get("Content-Type", ""):
                continue
            if resp.status_code == 200:
                out.append((route, path))
                kept += 1
                if kept == PER_ROUTE.get(route, 1) and "?" not in path:
                    break
            elif resp.status_code in (403, 404) and resp.status_code not in errors:
                errors.add(resp.status_code)
                out.append((route, path))
    return out


def _users(w) -> dict[str, object]:
    # the roles that may not unmask come from the world, the others are made here; a member of the
    # association opens no page (test_web_shell, test_access_matrix)
    users = {r: u for r, u in w.users.items() if r not in OUTSIDE_ROLES}
    for role in [r for r in Role.values if r not in OUTSIDE_ROLES]:
        if role not in users:
            users[role] = make_user(f"w-{role}", role, **SCOPES[role])
    return users


def _session_cookie(user) -> str:
    c = Client()
    c.force_login(user)
    return c.cookies[settings.SESSION_COOKIE_NAME].value


# one test per language, each in its own xdist group: the two halves of the walk run side by side
@pytest.mark.parametrize(
    "lang", [pytest.param(lang, marks=pytest.mark.xdist_group(f"i18n-{lang}")) for lang in LANGUAGES]
)
def test_every_page_reads_in_its_language(browser, live_server, custos_home, lang):
    from custos.crypto import keyring

    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
    started = time.monotonic()
    w = build_world()
    users = _users(w)
    han_values, ascii_values, orgs = fixture_values()
    ascii_values += sorted(orgs, key=len, reverse=True)  # shown with a name: bare_codes reads them
    routes = _routes(w)
    built = time.monotonic()

    problems: dict[tuple[str, str], set[str]] = defaultdict(set)  # (language, what) → "role path"
    opened: dict[tuple[str, str], int] = defaultdict(int)
    if DUMP:
        DUMP.mkdir(parents=True, exist_ok=True)
    only = os.environ.get("CUSTOS_I18N_ROLES")  # a comma-separated subset, while fixing pages
    for role, user in users.items():
        if only and role not in only.split(","):
            continue
        cookie = _session_cookie(user)
        paths = pages_of(user, routes)
        context = browser.new_context(locale="zh-CN" if lang == "zh-hans" else "en-US")
        context.add_cookies(
            [
                {"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url},
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": live_server.url},
            ]
        )
        page = context.new_page()
        for route, path in paths:
            page.goto(live_server.url + path, wait_until="domcontentloaded")
            text = page.evaluate(TEXT_JS, UNREAD.get(route, ""))
            if DUMP:
                name = re.sub(r"\W+", "_", f"{role}-{lang}-{path}")
                (DUMP / f"{name}.txt").write_text(text)
            opened[(role, lang)] += 1
            found = bare_codes(text, orgs)
            found += han_problems(text, han_values) if lang == "en" else ascii_problems(text, ascii_values)
            for word in found:
                problems[(lang, word)].add(f"{role} {path}")
        context.close()

    elapsed = f"{built - started:.0f}s to build, {time.monotonic() - built:.0f}s to read {sum(opened.values())} pages"
    print(elapsed)
    # the walk is not empty: every role opens pages with records (its home, findings, lookups)
    few = {k: n for k, n in opened.items() if n < 5}
    assert opened and not few, f"roles that opened fewer than 5 pages: {few}"
    report = []
    for (lang, word), wheres in sorted(problems.items()):
        sample = sorted(wheres)
        report.append(f"[{lang}] {word!r} on {len(sample)} page(s), e.g. {'; '.join(sample[:3])}")
    assert not report, f"{len(report)} untranslated words or bare codes ({elapsed}):\n" + "\n".join(report)
