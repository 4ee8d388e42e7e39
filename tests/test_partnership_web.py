"""Partnership pages: each opens for the roles the capability table gives it and is a 403 for every
other role; compliance runs the whole path through the pages (campaign, letter, delivery, review,
opinion, termination); partner staff read their own letter and what releases their held commission;
the pages speak English with the language cookie."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from custos.access.models import Role
from custos.partnership import services
from custos.partnership.models import Campaign, Letter, Recommendation, Termination
from tests.conftest import make_user
from tests.test_partnership import DAY, campaign_with_letter, deliver, world  # noqa: F401 (fixture)
from tests.test_remediation import keys  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

SCOPES = {Role.AGENT: {"staff_no": "A1"}, Role.CHANNEL_MANAGER: {"channel": "bancassurance"}}


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def pages(world):  # noqa: F811
    """A campaign past its deadline, its letter to BK1 sent and delivered, and a recommendation."""
    today = timezone.localdate()
    c, letter = campaign_with_letter(world, started_on=today - 40 * DAY, deadline=today - DAY)
    deliver(letter, world["compliance"])
    [rec] = services.review(c)
    users = {r: make_user(f"r-{r}", r, **SCOPES.get(r, {})) for r in Role.values}
    users[Role.PARTNER_STAFF] = world["bk1"]
    return {"campaign": c, "letter": letter, "rec": rec, "users": users}


def test_each_page_opens_for_its_roles_and_is_a_403_for_the_others(world, pages):  # noqa: F811
    c, letter, rec = pages["campaign"], pages["letter"], pages["rec"]
    gets = {
        reverse("partnership-campaigns"): {Role.COMPLIANCE},
        reverse("partnership-campaign", args=[c.pk]): {Role.COMPLIANCE},
        reverse("partnership-letter", args=[letter.pk]): {Role.COMPLIANCE, Role.PARTNER_STAFF},
        reverse("partnership-letter-pdf", args=[letter.pk]): {Role.COMPLIANCE, Role.PARTNER_STAFF},
        reverse("partnership-recommendations"): {Role.COMPLIANCE, Role.CUSTOMER_SERVICE},
        reverse("partnership-recommendation", args=[rec.pk]): {Role.COMPLIANCE, Role.CUSTOMER_SERVICE},
        reverse("partnership-mine"): {Role.PARTNER_STAFF},
    }
    posts = {
        reverse("partnership-campaigns"): ({"name": "x"}, {Role.COMPLIANCE}),
        reverse("partnership-letters-draft"): ({"campaign": c.pk, "partner": "BK1"}, {Role.COMPLIANCE}),
        reverse("partnership-letter-step"): ({"letter": letter.pk, "step": "acknowledge"}, {Role.COMPLIANCE}),
        reverse("partnership-review"): ({}, {Role.COMPLIANCE}),
        reverse("partnership-opinion"): ({"recommendation": rec.pk, "opinion": "意见"}, {Role.COMPLIANCE}),
        reverse("partnership-decide"): (
            {"recommendation": rec.pk, "decision": "none", "reason": "x"},
            {Role.COMPLIANCE},
        ),
    }
    for role, user in pages["users"].items():
        client = login(user)
        for url, holders in gets.items():
            status = client.get(url).status_code
            assert (status == 200) == (role in holders), (role, url, status)
            assert status in (200, 403), (role, url, status)
        for url, (data, holders) in posts.items():
            if role in holders:
                continue  # the holders' posts change things: the flow test below covers them
            assert client.post(url, data).status_code == 403, (role, url)
    # the partner's letter is not another partner's, and a drafted letter is not shown to the partner
    other = make_user("bk2", "partner_staff", partner_code="BK2")
    assert login(other).get(reverse("partnership-letter", args=[letter.pk])).status_code == 403
    Letter.objects.filter(pk=letter.pk).update(status="drafted")
    assert login(world["bk1"]).get(reverse("partnership-letter", args=[letter.pk])).status_code == 403


def test_a_branch_reader_sees_only_its_branchs_partners(world, pages):  # noqa: F811
    bj = make_user("cs-bj", "customer_service", branch_code="BJ")  # BK1 is a Guangzhou outlet
    client = login(bj)
    assert client.get(reverse("partnership-recommendation", args=[pages["rec"].pk])).status_code == 404
    assert "某银行天河支行" not in client.get(reverse("partnership-recommendations")).content.decode()
    gz = login(make_user("cs-gd", "customer_service", branch_code="GD"))
    assert gz.get(reverse("partnership-recommendation", args=[pages["rec"].pk])).status_code == 200


def test_compliance_runs_the_path_through_the_pages(world, client):  # noqa: F811
    client.force_login(world["compliance"])
    today = timezone.localdate()
    bad = client.post(
        reverse("partnership-campaigns"),
        {"name": "倒序", "started_on": "2026-03-01", "deadline": "2026-02-01"},
    )
    assert bad.status_code == 400 and 'id="error-deadline"' in bad.content.decode()
    assert not Campaign.objects.exists()
    r = client.post(reverse("partnership-campaigns"), {"name": "页面清查", "started_on": (today - 40 * DAY).isoformat(),
                                                      "deadline": (today - DAY).isoformat()})  # fmt: skip
    c = Campaign.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("partnership-campaign", args=[c.pk])
    page = client.get(r["Location"]).content.decode()
    assert 'value="BK1"' in page and "某银行天河支行" in page
    client.post(reverse("partnership-letters-draft"), {"campaign": c.pk, "partner": ["BK1"]})
    letter = Letter.objects.get()
    assert client.get(reverse("partnership-letter-pdf", args=[letter.pk])).getvalue().startswith(b"%PDF")
    step = reverse("partnership-letter-step")
    r = client.post(step, {"letter": letter.pk, "step": "send", "via": "post"}, follow=True)
    assert "运单号" in r.content.decode() and Letter.objects.get().status == "drafted"  # refused, said why
    client.post(step, {"letter": letter.pk, "step": "send", "via": "courier", "tracking_no": "SF9"})
    client.post(step, {"letter": letter.pk, "step": "deliver", "signed_by": "张经理"})
    page = client.get(reverse("partnership-letter", args=[letter.pk])).content.decode()
    assert "SF9" in page and "张经理" in page and "已送达" in page
    assert client.post(step, {"step": "deliver"}).status_code == 400  # which letter?
    client.post(reverse("partnership-review"), {"campaign": c.pk})
    rec = Recommendation.objects.get()
    page = client.get(reverse("partnership-recommendation", args=[rec.pk])).content.decode()
    assert letter.number in page and "SF9" in page and 'id="opinion-form"' in page
    client.post(
        reverse("partnership-decide"), {"recommendation": rec.pk, "decision": "terminate", "reason": "逾期"}
    )
    assert not Termination.objects.exists()  # no opinion yet
    client.post(
        reverse("partnership-opinion"), {"recommendation": rec.pk, "opinion": "逾期未整改，建议终止。"}
    )
    client.post(
        reverse("partnership-decide"), {"recommendation": rec.pk, "decision": "terminate", "reason": "逾期"}
    )
    assert Termination.objects.get().partner_code == "BK1"
    cs = login(world["cs"])  # reported to customer service
    page = cs.get(reverse("partnership-recommendations")).content.decode()
    assert "合规作出决定" in page and "终止合作" in page
    assert login(world["bk1"]).get(reverse("partnership-mine")).status_code in (302, 403)  # deactivated


def test_partner_staff_see_their_letter_and_what_releases_their_commission(world, pages):  # noqa: F811
    client = login(world["bk1"])
    page = client.get(reverse("partnership-mine")).content.decode()
    assert pages["letter"].number in page and reverse("commission-mine") in page
    assert "82.39" in page and "P2" in page and "P4" in page
    page = client.get(reverse("partnership-letter", args=[pages["letter"].pk])).content.decode()
    assert 'id="step-form"' not in page and pages["letter"].sha256 in page


def test_the_pages_in_english(world, pages, settings):  # noqa: F811
    from custos.book.models import Branch, Partner

    book = set(Branch.objects.values_list("name", flat=True)) | set(
        Partner.objects.values_list("name", flat=True)
    )
    client = login(world["compliance"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for url in (
        reverse("partnership-campaigns"),
        reverse("partnership-campaign", args=[pages["campaign"].pk]),
        reverse("partnership-letter", args=[pages["letter"].pk]),
        reverse("partnership-recommendations"),
        reverse("partnership-recommendation", args=[pages["rec"].pk]),
    ):
        r = client.get(url)
        assert r.status_code == 200, url
        main = r.content.decode()
        main = main[main.index('<main class="page">') : main.index("</main>")]
        text = html.unescape(
            re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", main, flags=re.S))
        )
        text = text.replace(pages["campaign"].name, "").replace(pages["letter"].number, "")
        text = text.replace("李经理", "")  # who signed: data, not the page's own words
        han = set(re.findall(r"[\u4e00-\u9fff]+", text)) - book
        assert not han, (url, han)
    partner = login(world["bk1"])
    partner.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "How held commission is released" in partner.get(reverse("partnership-mine")).content.decode()


def test_the_page_drafts_a_bounded_number_of_letters_per_submission(world, client):  # noqa: F811
    client.force_login(world["compliance"])
    c = services.open_campaign("批量", world["compliance"])
    many = ["BK1"] + [f"X{i}" for i in range(25)]
    r = client.post(reverse("partnership-letters-draft"), {"campaign": c.pk, "partner": many}, follow=True)
    assert "custos partnership letters" in r.content.decode() and not Letter.objects.exists()
