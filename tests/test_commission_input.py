"""The book's optional commissions table: exact amounts, payees that exist, months, unique items.

A bad file is refused with the file, row and column named, and the load changes nothing."""

from decimal import Decimal

import pytest

from custos.book.models import BookLoad, CommissionItem
from custos.book.services import load_book
from tests.test_load import copy_book, errors_of, write

pytestmark = pytest.mark.django_db
HEADER = ["item_no", "policy_no", "payee_kind", "payee", "kind", "period", "amount", "paid_on"]
GOOD = [
    ["C1", "PL0001", "agent", "S002", "first_year", "2020-01", "1800.00", "2020-02-10"],
    ["C2", "PL0002", "partner", "P01", "first_year", "2021-06", "250.5", ""],
    ["C3", "PL0002", "合作机构", "P01", "调整", "2021-07", "-0.01", ""],
]


@pytest.fixture(autouse=True)
def _home(custos_home):
    return custos_home


def load_with(tmp_path, rows):
    book = copy_book(tmp_path)
    write(book, "commissions", [HEADER, *rows])
    return load_book(book)


def test_items_are_loaded_exactly_to_the_fen(tmp_path):
    load = load_with(tmp_path, GOOD)
    assert load.status == "done", errors_of(load)
    items = {i.item_no: i for i in CommissionItem.objects.all()}
    assert items["C2"].amount == Decimal("250.50") and items["C3"].amount == Decimal("-0.01")
    assert (items["C3"].payee_kind, items["C3"].kind) == ("partner", "adjustment")
    assert items["C1"].paid_on.isoformat() == "2020-02-10" and items["C2"].paid_on is None
    assert not any(i.derived for i in items.values())


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        (["C9", "PL0001", "agent", "S002", "first_year", "2020-01", "10.005", ""], "amount", "2 decimal"),
        (["C9", "PL0001", "agent", "S002", "first_year", "2020-01", "1.500", ""], "amount", "2 decimal"),
        (["C9", "PL0001", "agent", "NOBODY", "first_year", "2020-01", "10", ""], "payee", "staff_no"),
        (["C9", "PL0001", "partner", "S002", "first_year", "2020-01", "10", ""], "payee", "partner_code"),
        (["C9", "PL0001", "agent", "S002", "first_year", "2020-13", "10", ""], "period", "YYYY-MM"),
        (["C9", "PL0001", "agent", "S002", "first_year", "2020/01", "10", ""], "period", "YYYY-MM"),
        (["C9", "PL0001", "agent", "S002", "first_year", "2020-01", "ten", ""], "amount", "not a number"),
        (["C9", "PL0001", "bank", "S002", "first_year", "2020-01", "10", ""], "payee_kind", ""),
        (["C9", "NOPOLICY", "agent", "S002", "first_year", "2020-01", "10", ""], "policy_no", "policies"),
        (["C1", "PL0001", "agent", "S002", "renewal", "2021-01", "10", ""], "item_no", "duplicate"),
    ],
)
def test_a_bad_item_names_file_row_and_column_and_nothing_is_loaded(tmp_path, row, column, words):
    load = load_with(tmp_path, [*GOOD, row])
    assert load.status == "failed"
    errors = [e for e in load.errors if e["file"] == "commissions.csv"]
    assert [(e["row"], e["column"]) for e in errors] == [(len(GOOD) + 2, column)], errors_of(load)
    assert words.lower() in errors[0]["message"].lower()
    assert CommissionItem.objects.count() == 0
    assert BookLoad.objects.filter(status="done").count() == 0


def test_a_later_book_without_an_item_marks_it_gone(tmp_path):
    assert load_with(tmp_path / "a", GOOD).status == "done"
    second = load_with(tmp_path / "b", GOOD[:2])
    assert second.status == "done", errors_of(second)
    assert CommissionItem.objects.get(item_no="C3").gone_load_id == second.pk
