"""The demo's blacklist step: a second custos as the association, one hit, idempotent."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_blacklist_finds_one_listed_staff_member(custos_home, settings):
    from custos.blacklist.demo import demo_blacklist
    from custos.blacklist.models import Hit, StaffCheck
    from custos.book.services import load_book

    settings.CUSTOS_BLACKLIST_URL = ""  # the load itself checks nothing: no association is set
    load = load_book(Path(__file__).parent / "books" / "basic")
    assert load.status == "done", load.errors
    lines: list[str] = []
    demo_blacklist(lines.append)
    assert len(lines) == 1 and "1 on the industry list" in lines[0], lines
    hit = Hit.objects.get()
    assert StaffCheck.objects.get(staff_no=hit.staff_no).status == "hit"
    assert StaffCheck.objects.filter(status="clear").exists()
    assert not (custos_home / "association" / "list.csv").exists()  # the input file is gone
    demo_blacklist(lines.append)  # again: the same association, the same hit
    assert "1 on the industry list" in lines[1] and Hit.objects.count() == 1
