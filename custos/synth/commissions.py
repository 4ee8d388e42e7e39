"""The book's optional `commissions` table, derived from the policies already written.

Per policy with a commission and a payee (the outlet that sold it — bank, post office, broker — or
else the agent): the first-year item (exactly `policies.commission`, in the month of issue), a
renewal item on each anniversary while premiums are paid (in force or matured: up to the term or 9
renewal years; lapsed, surrendered or terminated: the years before it stopped), sometimes a
first-year bonus and, on a surrendered policy, sometimes a reversal (`adjustment`, negative) of part
of the first-year commission. All amounts are whole fen computed as integers: yuan with exactly 2
decimals in the file. Items of the book's last two months are unpaid; every earlier item was paid
in the month after it fell due, so a finding on an older policy means a clawback.

Read back from policies.csv with a generator of its own (seeded from the book seed), so the other
files keep their bytes and the same seed gives the same file whatever the number of workers."""

from __future__ import annotations

import csv
import datetime
import random
from pathlib import Path

from custos.domain.bookformat import TABLES
from custos.synth import base

LAST = datetime.date.fromordinal(base.BOOK_END)
LAST_MONTH = LAST.year * 12 + LAST.month - 1  # months since year 0
UNPAID_MONTHS = 2  # the book's last two months are not paid yet
MAX_RENEWALS = 9
RENEWAL_PCT = (30, 20, 15, 10, 10, 5, 5, 5, 5)  # of the first-year commission, renewal year 1, 2, …
STOPPED = ("lapsed", "surrendered", "terminated")


def _period(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _fen(text: str) -> int:
    whole, _dot, frac = text.strip().partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * 100 + int((frac + "00")[:2]))


def items_of(row: dict, rng: random.Random) -> list[tuple]:
    """The commission rows of one policy row of policies.csv (possibly none)."""
    payee_kind, payee = (
        ("partner", row["partner_code"]) if row["partner_code"] else ("agent", row["agent_no"])
    )
    if not payee or not row["commission"] or not row["issued_on"]:
        return []
    first = _fen(row["commission"])
    if first <= 0:
        return []
    issued = datetime.date.fromisoformat(row["issued_on"])
    m0 = issued.year * 12 + issued.month - 1
    if m0 > LAST_MONTH:
        return []
    policy_no = row["policy_no"]
    term = int(row["term_years"] or 0)
    years = (LAST_MONTH - m0) // 12  # anniversaries up to the book's last month
    renewals = 0
    if term != 1:
        renewals = min(years, MAX_RENEWALS, term - 1 if term > 1 else MAX_RENEWALS)
        if row["status"] in STOPPED and renewals:
            renewals = base.ri(rng, 0, renewals)
    out = [(f"{policy_no}-FY", "first_year", m0, first)]
    for y in range(1, renewals + 1):
        amount = first * RENEWAL_PCT[y - 1] // 100
        if amount:
            out.append((f"{policy_no}-R{y:02d}", "renewal", m0 + 12 * y, amount))
    if rng.random() < 0.12:
        bonus = first * base.ri(rng, 5, 10) // 100
        month = m0 + base.ri(rng, 1, 3)
        if bonus and month <= LAST_MONTH:
            out.append((f"{policy_no}-B1", "bonus", month, bonus))
    if row["status"] == "surrendered" and rng.random() < 0.3:
        month = m0 + base.ri(rng, 1, 6)
        reversal = first * base.ri(rng, 20, 50) // 100
        if reversal and month <= LAST_MONTH:
            out.append((f"{policy_no}-A1", "adjustment", month, -reversal))
    rows = []
    for item_no, kind, month, amount in out:
        paid_on = ""
        if month <= LAST_MONTH - UNPAID_MONTHS:
            nxt = month + 1
            paid_on = datetime.date(nxt // 12, nxt % 12 + 1, base.ri(rng, 5, 25)).isoformat()
        rows.append((item_no, policy_no, payee_kind, payee, kind, _period(month), _yuan(amount), paid_on))
    return rows


def write_commissions(out_dir: Path, seed: int, encoding: str = "utf-8") -> int:
    """Write out_dir/commissions.csv from out_dir/policies.csv; the number of items."""
    out = Path(out_dir)
    rng = random.Random(seed * 1_000_033 + 424_242)
    n = 0
    with (
        open(out / "policies.csv", encoding=encoding, newline="") as src,
        open(out / "commissions.csv", "w", encoding=encoding, newline="") as dst,
    ):
        w = csv.writer(dst)
        w.writerow(TABLES["commissions"].column_names)
        for row in csv.DictReader(src):
            rows = items_of(row, rng)
            w.writerows(rows)
            n += len(rows)
    return n
