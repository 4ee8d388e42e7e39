"""Persons over the small book (tests/conftest.py: build_small_book), for the identity pages, the API
and the route walks, without running Splink's training:

- P00000001: the applicant of P1 (agency, GZ), P2 (bancassurance, SZ) and P4 (bancassurance, GZ);
  an XC02 finding on P4's applicant (its e-mail empty, known on P1) with the proposed value;
- P00000002: the applicant of P3 (BJ) only — outside every scope but the whole book's;
- P00000003: the insured of P4 and of P3 — in scope through P4, whose page never names P3;
- P00000004: the insured of P1; an open review pair between it and P00000003 (P4's insured);
- a merge event into P00000001 whose evidence names P1 and P4.

The link run's model is the real comparisons (custos.identity.engine.model) with m and u made up.
"""

from __future__ import annotations

PROPOSED_EMAIL = "fill.secret@example.org"  # XC02's proposed value: never shown in clear
PERSONS = {
    1: [("P1", "applicant", 1), ("P2", "applicant", 1), ("P4", "applicant", 1)],
    2: [("P3", "applicant", 1)],
    3: [("P4", "insured", 1), ("P3", "insured", 1)],
    4: [("P1", "insured", 1)],
}


def made_up_model() -> dict:
    from custos.identity.engine import model

    comparisons = model.comparisons()
    for c in comparisons:
        levels = [lvl for lvl in c["comparison_levels"] if not lvl.get("is_null_level")]
        n = len(levels)
        for i, lvl in enumerate(levels):  # the most alike first: m falls, u rises
            lvl["m_probability"] = 0.9 if i == 0 else 0.1 / (n - 1)
            lvl["u_probability"] = 0.001 if i < n - 1 else 1 - 0.001 * (n - 1)
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": 1e-4,
        "blocking_rules_to_generate_predictions": [],
        "comparisons": comparisons,
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
    }


def build_persons(load=None) -> dict:
    """The persons above over the small book already built; returns {number: Person, "run", "pair",
    "finding", "event"}."""
    from django.utils import timezone

    from custos.book.models import BookLoad, Party, Policy
    from custos.checks.models import CheckRun, Finding
    from custos.identity.models import LinkEvent, LinkRun, Person, PersonRecord, ReviewPair

    load = load or BookLoad.objects.order_by("id").first()
    run = LinkRun.objects.create(
        load=load, status=LinkRun.Status.DONE, model=made_up_model(), finished_at=timezone.now()
    )
    out: dict = {"run": run}
    for number, keys in PERSONS.items():
        person = Person.objects.create(number=number, created_run=run, updated_run=run)
        out[number] = person
        for p, r, s in keys:
            PersonRecord.objects.create(policy_no=p, role=r, seq=s, person=person, run=run)
    out["pair"] = ReviewPair.objects.create(
        run=run, l_policy_no="P1", l_role="insured", l_seq=1, r_policy_no="P4", r_role="insured", r_seq=1,
        match_weight=3.5, match_probability=0.92, levels={"name": "exact", "id_no": "one digit off or transposed"},
    )  # fmt: skip
    out["event"] = LinkEvent.objects.create(
        run=run, kind=LinkEvent.Kind.MERGE, from_person=out[2], to_person=out[1],
        records=[["P4", "applicant", 1]],
        evidence={"max_weight": 21.5, "pairs": [
            {"l": ["P4", "applicant", 1], "r": ["P1", "applicant", 1], "weight": 21.5, "probability": 0.999999},
            {"l": ["P4", "applicant", 1], "r": ["P3", "applicant", 1], "weight": 9.5, "probability": 0.99}]},
    )  # fmt: skip
    # P4's applicant lost its e-mail: XC02 proposes P1's
    Party.objects.filter(policy_no="P4", role="applicant").update(email="")
    p4 = Party.objects.get(policy_no="P4", role="applicant")
    p4.save()  # the integrity tag follows the change
    check = CheckRun.objects.filter(load=load).first() or CheckRun.objects.create(load=load, status="done")
    pol = Policy.objects.get(policy_no="P4")
    out["finding"] = Finding.objects.create(
        check_code="XC02", policy_no="P4", role="applicant", seq=1, field="email", category="missing",
        severity="low", value="", proposed=PROPOSED_EMAIL, opened_run=check, last_seen_run=check,
        opened_at=timezone.now(), channel=pol.channel, branch_code=pol.branch_code, agent_no=pol.agent_no,
        partner_code=pol.partner_code, detail="candidates=1",
    )  # fmt: skip
    return out
