"""Linking quality on a small synthetic book with the hard cases of custos.identity.synth_cases
planted: pairwise and B-cubed precision and recall against truth/persons.csv (through `custos link`
and the database), and each hard case scored by the model trained on the book: a crowd of unrelated
王伟, 张伟 and 李娜 born in one year stays apart, a family sharing one mobile and one address (with
twins) stays apart, the 15- and 18-digit forms of one ID number link, a homophone and the traditional
script of one name link."""

from __future__ import annotations

import pytest

from custos.identity.engine.model import Params
from custos.identity.services import clusters as cl

pytestmark = [pytest.mark.slow]

POLICIES = 250


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from custos.identity.synth_cases import plant
    from custos.synth.generator import generate_book

    root = tmp_path_factory.mktemp("quality")
    generate_book(root / "book", policies=POLICIES, seed=77, workers=1)
    plant(root / "book")
    return root / "book"


@pytest.fixture(scope="module")
def scored(book, tmp_path_factory):
    """(policy_no, role, seq) -> cluster of the record, as the trained model links the book."""
    from custos.checks.engine import snapshot_from_csv_folder
    from custos.identity.services.link import score

    snap = snapshot_from_csv_folder(book, tmp_path_factory.mktemp("quality-snap"))
    out = score(snap, Params(u_max_pairs=200_000))
    by_key = {k: uid for uid, k in out["keys"].items()}
    clusters = cl.cluster(out["keys"], out["edges"])
    return lambda p, r, s: clusters[by_key[(p, r, s)]]


@pytest.mark.django_db
def test_pairwise_and_bcubed_against_the_truth(book, tmp_path, custos_home, settings):
    from custos.book.services import load_book
    from custos.identity.services.evaluate import read_assignment, scores
    from custos.identity.services.export import export_csv
    from custos.identity.services.link import run_link

    settings.CUSTOS_IDENTITY = {"u_max_pairs": 200_000}
    load = load_book(book)
    assert load.status == "done", load.errors
    run_link(load)
    export_csv(tmp_path / "persons.csv")
    found = read_assignment(tmp_path / "persons.csv")
    truth = read_assignment(book / "truth" / "persons.csv")
    assert found.keys() == truth.keys()
    s = scores(found, truth)
    assert s["true_pairs"] > 100
    assert s["precision"] >= 0.99 and s["recall"] >= 0.98, s
    assert s["bcubed_precision"] >= 0.99 and s["bcubed_recall"] >= 0.98, s
    # the crowd and the family are in the book: a model that merged them would fail here
    crowd = {found[(f"ZCROWD{n:02d}", "applicant", 1)] for n in range(1, 21)}
    assert len(crowd) == 20


def test_scores_count_pairs_and_bcubed():
    from custos.identity.services.evaluate import scores

    truth = {1: "a", 2: "a", 3: "a", 4: "b"}
    found = {1: "x", 2: "x", 3: "y", 4: "y"}  # one true pair of three found, one false pair
    s = scores(found, truth)
    assert (s["true_pairs"], s["found_pairs"], s["correct_pairs"]) == (3, 2, 1)
    assert s["precision"] == 0.5 and s["recall"] == pytest.approx(1 / 3)
    assert s["bcubed_precision"] == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert s["bcubed_recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)


def test_a_crowd_of_the_commonest_names_stays_apart(scored):
    heads = {scored(f"ZCROWD{n:02d}", "applicant", 1) for n in range(1, 21)}
    assert len(heads) == 20, "王伟, 张伟, 李娜 born in 1980 (two pairs on one day) are 20 people"
    for n in range(1, 21):
        assert scored(f"ZCROWD{n:02d}", "insured", 1) == scored(f"ZCROWD{n:02d}", "applicant", 1)


def test_a_family_sharing_mobile_and_address_stays_apart(scored):
    father, mother, son = (scored("ZFAM1", r, 1) for r in ("applicant", "insured", "beneficiary"))
    twin1, twin2 = scored("ZFAM3", "insured", 1), scored("ZFAM4", "insured", 1)
    assert len({father, mother, son, twin1, twin2}) == 5
    assert scored("ZFAM2", "applicant", 1) == mother and scored("ZFAM2", "insured", 1) == son
    assert scored("ZFAM3", "applicant", 1) == scored("ZFAM4", "applicant", 1) == father


def test_the_15_and_18_digit_forms_of_one_id_link(scored):
    assert scored("ZLEG1", "applicant", 1) == scored("ZLEG2", "applicant", 1) == scored("ZLEG1", "insured", 1)


def test_a_homophone_and_the_traditional_script_link(scored):
    assert (
        scored("ZHOM1", "applicant", 1) == scored("ZHOM2", "applicant", 1) == scored("ZHOM3", "applicant", 1)
    )


def test_the_comparisons_the_issue_lists():
    """Name exact (term-frequency adjusted), same pinyin, Jaro-Winkler on pinyin; birth date exact,
    day/month swapped, one part off; ID exact, 15/18 forms, one digit off or transposed; mobile
    (term-frequency adjusted), address parts, gender."""
    from custos.identity.engine import model

    levels = {
        c["output_column_name"]: [lvl["label_for_charts"] for lvl in c["comparison_levels"]]
        for c in model.comparisons()
    }
    assert levels["name"][1:4] == ["exact", "same pinyin", "pinyin Jaro-Winkler >= 0.92"]
    assert levels["birth_date"][1:4] == ["exact", "day and month swapped", "one part off"]
    assert levels["id_no"][1:4] == ["exact", "15- and 18-digit forms", "one digit off or transposed"]
    assert levels["address"][2:4] == ["same road and number", "same estate or village"]
    assert {"mobile", "gender", "email"} <= set(levels)
    tf = {
        lvl.get("tf_adjustment_column")
        for c in model.comparisons()
        for lvl in c["comparison_levels"]
        if lvl.get("tf_adjustment_column")
    }
    assert tf == set(model.TF_COLUMNS) == {"name_n", "mobile_n", "addr_n"}


def test_features_fold_the_forms_of_one_value():
    """The 15-digit number gets its 18-digit form; 张伟, 章伟, 張偉 share one pinyin."""
    from custos.identity.engine.features import pinyin, upgrade_15
    from custos.identity.synth_cases import rid

    id18 = rid("440106", "1962-11-23", "417")
    assert upgrade_15(id18[:6] + id18[8:17]) == id18
    assert pinyin("张伟") == pinyin("章伟") == pinyin("張偉") == "zhangwei"
