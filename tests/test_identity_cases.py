"""The hard cases of linking, planted into a synthetic book and scored by the real model: a crowd
of unrelated 王伟 born in one year stays apart, a family sharing a mobile and an address stays
apart, one person's 15-digit legacy number links to their 18-digit one, a homophone (张伟/章伟) of
one person links."""

from __future__ import annotations

import csv

import pytest

from custos.identity.engine.model import Params
from custos.identity.services import clusters as cl

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_identity_cases")]


def rid(region: str, birth: str, seq: str) -> str:
    from stdnum.cn.ric import calc_check_digit

    body = region + birth.replace("-", "") + seq
    return body + calc_check_digit(body + "0")


def _append(path, rows):
    with path.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    with path.open("a", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])


def _person(name, gender, birth, id_no, mobile, address, **kw):
    return {
        "name": name,
        "gender": gender,
        "birth_date": birth,
        "id_type": "resident_id",
        "id_no": id_no,
        "nationality": "CHN",
        "mobile": mobile,
        "address": address,
        **kw,
    }


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    from custos.checks.engine import snapshot_from_csv_folder
    from custos.identity.services.link import score
    from custos.synth.generator import generate_book

    root = tmp_path_factory.mktemp("cases")
    book = root / "book"
    generate_book(book, policies=300, seed=77, workers=1)
    with (book / "policies.csv").open(encoding="utf-8") as f:
        template = next(csv.DictReader(f))
    policies, parties = [], []

    def policy(no, applied, *members):
        policies.append({**template, "policy_no": no, "applied_on": applied, "issued_on": applied})
        for role, seq, relation, person in members:
            parties.append({"policy_no": no, "role": role, "seq": seq, "relation": relation, **person})

    # a crowd: six unrelated 王伟 born in 1980, each insuring himself
    for i in range(6):
        birth = f"1980-{i + 1:02d}-{10 + i:02d}"
        p = _person(
            "王伟",
            "M",
            birth,
            rid("110105", birth, f"{31 + 2 * i:03d}"),
            f"1391000{i:04d}",
            f"北京市朝阳区建国路{100 + i}号{i + 1}栋{i + 1}01室",
        )
        policy(f"ZCROWD{i}", "2020-05-01", ("applicant", 1, "", p), ("insured", 1, "self", p))
    # a family sharing one mobile and one address, on two policies
    home, phone = "上海市浦东新区世纪大道88号3栋1202室", "13917770001"
    father = _person("张建国", "M", "1970-03-04", rid("310115", "1970-03-04", "015"), phone, home)
    mother = _person("李秀英", "F", "1972-08-09", rid("310115", "1972-08-09", "026"), phone, home)
    child = _person("张小明", "M", "2000-01-02", rid("310115", "2000-01-02", "037"), phone, home)
    policy(
        "ZFAM1",
        "2019-01-01",
        ("applicant", 1, "", father),
        ("insured", 1, "spouse", mother),
        ("beneficiary", 1, "son", child),
    )
    policy("ZFAM2", "2021-01-01", ("applicant", 1, "", mother), ("insured", 1, "son", child))
    # one person: the 18-digit number, and on an old policy the 15-digit form with another phone
    id18 = rid("440106", "1962-11-23", "417")
    new = _person("陈志强", "M", "1962-11-23", id18, "13688880001", "广东省广州市天河区体育西路123号5栋601房")
    old = _person(
        "陈志强", "M", "1962-11-23", id18[:6] + id18[8:17], "13500001111", "广东省广州市越秀区中山五路8号"
    )
    policy("ZLEG1", "2008-06-01", ("applicant", 1, "", old), ("insured", 1, "self", old))
    policy("ZLEG2", "2022-06-01", ("applicant", 1, "", new))
    # one person written with a homophone surname on a later policy
    zw = _person(
        "张伟",
        "M",
        "1985-07-07",
        rid("320102", "1985-07-07", "059"),
        "15851110000",
        "江苏省南京市玄武区中山路1号",
    )
    policy("ZHOM1", "2016-02-02", ("applicant", 1, "", zw))
    policy("ZHOM2", "2023-02-02", ("applicant", 1, "", {**zw, "name": "章伟"}))

    _append(book / "policies.csv", policies)
    _append(book / "parties.csv", parties)
    snap = snapshot_from_csv_folder(book, root / "snap")
    out = score(snap, Params(u_max_pairs=200_000))
    by_key = {k: uid for uid, k in out["keys"].items()}
    clusters = cl.cluster(out["keys"], out["edges"])
    return lambda p, r, s: clusters[by_key[(p, r, s)]]


def test_a_crowd_of_namesakes_stays_apart(scored, custos_home):
    heads = {scored(f"ZCROWD{i}", "applicant", 1) for i in range(6)}
    assert len(heads) == 6
    assert all(scored(f"ZCROWD{i}", "insured", 1) == scored(f"ZCROWD{i}", "applicant", 1) for i in range(6))


def test_a_family_sharing_mobile_and_address_stays_apart(scored):
    father, mother, child = (scored("ZFAM1", r, 1) for r in ("applicant", "insured", "beneficiary"))
    assert len({father, mother, child}) == 3
    assert scored("ZFAM2", "applicant", 1) == mother and scored("ZFAM2", "insured", 1) == child


def test_the_15_digit_form_links(scored):
    assert scored("ZLEG1", "applicant", 1) == scored("ZLEG2", "applicant", 1) == scored("ZLEG1", "insured", 1)


def test_a_homophone_links(scored):
    assert scored("ZHOM1", "applicant", 1) == scored("ZHOM2", "applicant", 1)
