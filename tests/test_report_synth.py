"""The work summary reproduces the 2014 inspection's rates on a synthetic book generated with them:
synth → load → check → report, every step the real one.

The book is generated with the generator's defaults (the 2014 rates: 4.02 % untrue, of which 3.2 %
missing and 0.82 % false; bancassurance 6.43 %, agency 0.7 %, other channels 0.8 %) and three
overrides: every policy is in the report's scope (in force, term over one year), no defect is forced
into the first chunk (min_per_check 0, which would lift a small book's rate), and no XC02 (a repeat
customer's e-mail emptied: untrue in the truth, but only identity resolution, not the check
catalogue, can see it). Each rate must fall within 4 binomial standard errors of its target.
"""

from __future__ import annotations

import math
import time

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

POLICIES = 12_000
SEED = 2014
SIGMAS = 4
TARGETS = {"untrue": 0.0402, "missing": 0.032, "false": 0.0082}
# The 2014 inspection gave bancassurance and agency their own rate and the other channels one
# together: each of those is a few hundred policies here, too few for a rate of its own.
BY_CHANNEL = {"银保": ("银保",), "个险": ("个险",), "other": ("团险", "网销", "电销", "中介")}
CHANNEL_TARGETS = {"银保": 0.0643, "个险": 0.007, "other": 0.008}


def within(rate: float, target: float, n: int) -> bool:
    return abs(rate - target) <= SIGMAS * math.sqrt(target * (1 - target) / n)


def _truth(path) -> dict[str, set]:
    """Untrue, missing and false policies by the truth file (categories of custos.synth.rates)."""
    import csv
    from collections import defaultdict

    from custos.synth.rates import CHECKS

    cats: dict[str, set] = defaultdict(set)
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            cats[row["policy_no"]].add(CHECKS[row["check"]][0])
    return {
        "untrue": {p for p, c in cats.items() if c & {"missing", "false"}},
        "missing": {p for p, c in cats.items() if "missing" in c},
        "false": {p for p, c in cats.items() if "false" in c},
    }


def test_the_summary_reproduces_the_2014_rates(tmp_path, custos_home):
    from django.utils import translation

    from custos.book.services import load_book
    from custos.checks.services import run_check
    from custos.report.services import build
    from custos.synth import generate_book
    from custos.synth.rates import DefectRates

    rates = DefectRates(min_per_check=0, kinds={"XC02": 0}, in_scope=True)
    assert rates.overall_untrue() == pytest.approx(TARGETS["untrue"], abs=5e-5)
    t0 = time.monotonic()
    generate_book(tmp_path / "book", POLICIES, SEED, rates=rates, workers=1)
    t1 = time.monotonic()
    load = load_book(tmp_path / "book")
    assert load.status == "done", load.errors
    t2 = time.monotonic()
    run = run_check(load=load)
    print(f"generate {t1 - t0:.1f} s, load {t2 - t1:.1f} s, check {time.monotonic() - t2:.1f} s")

    truth = _truth(tmp_path / "book" / "truth" / "defects.csv")
    with translation.override("zh-hans"):
        s = build()
    f = s.figures
    n = f["checked"]
    assert n == f["in_scope"] == POLICIES
    # the report's per-policy count agrees with the check run's own (all findings are open)
    assert (f["untrue"], f["missing"], f["false"]) == (
        run.policies_untrue,
        run.policies_missing,
        run.policies_false,
    )
    # the generator's truth: every injected policy counted, and nothing else but the owners of the
    # numbers ID09 lent to someone else (ID09 flags every holder of a conflicted number)
    from custos.checks.models import Finding

    for key, categories in (
        ("untrue", ("missing", "false")),
        ("missing", ("missing",)),
        ("false", ("false",)),
    ):
        found = Finding.objects.filter(category__in=categories)
        counted = set(found.values_list("policy_no", flat=True))
        assert len(counted) == f[key]
        assert truth[key] <= counted, (key, sorted(truth[key] - counted)[:5])
        extra = counted - truth[key]
        assert not found.filter(policy_no__in=extra).exclude(check_code="ID09").exists(), key
    report = {k: f[f"{k}_rate"] for k in TARGETS}
    print("report:", {k: f"{100 * v:.2f}%" for k, v in report.items()}, "n =", n)
    for key, target in TARGETS.items():
        assert within(report[key], target, n), f"{key}: {report[key]:.4%} vs {target:.2%} at n={n}"

    channel = {r[0]: r for r in s.table("channel").rows}
    assert list(channel) == ["银保", "个险", "团险", "网销", "电销", "中介"]
    for group, names in BY_CHANNEL.items():
        checked = sum(channel[name][2] for name in names)
        rate = sum(channel[name][3] for name in names) / checked
        target = CHANNEL_TARGETS[group]
        print(f"{group}: {rate:.2%} of {checked}")
        assert within(rate, target, checked), f"{group}: {rate:.4%} vs {target:.2%} at n={checked}"
