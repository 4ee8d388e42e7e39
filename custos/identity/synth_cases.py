"""Hard cases of identity resolution, planted into a synthetic book (with their truth).

    cases = plant(book_dir)      # appends policies and parties, and their rows of truth/persons.csv

Each case is a set of policies whose policy numbers start with its prefix:

- ``ZCROWD``: a crowd of unrelated people sharing the commonest names (王伟, 张伟, 李娜) and birth
  years — six of each born in 1980, and two 王伟 and two 李娜 born on the same day — each insuring
  themselves: they must stay apart (term-frequency adjusted names, different ID numbers, mobiles,
  addresses).
- ``ZFAM``: a family sharing one mobile and one address — father, mother, a son, and twin daughters
  born the same day — on two policies: five persons, not one.
- ``ZLEG``: one person whose ID is in its 15-digit form on an old policy (another mobile and address
  then) and 18-digit on a new one: one person.
- ``ZHOM``: one person written 张伟 on one policy, with the homophone 章伟 on a later one, and in
  traditional script (張偉) on a third: one person.

The values are made up; ID numbers carry a valid check digit and an existing area code.
"""

from __future__ import annotations

import csv
from pathlib import Path


def rid(region: str, birth: str, seq: str) -> str:
    """An 18-digit resident ID: area code, birth date, 3-digit sequence, check digit."""
    from custos.domain.ids import check_digit

    body = region + birth.replace("-", "") + seq
    return body + check_digit(body)


def person(name, gender, birth, id_no, mobile, address, **kw) -> dict:
    return {
        "name": name,
        "gender": gender,
        "birth_date": birth,
        "id_type": "resident_id",
        "id_no": id_no,
        "id_valid_until": "长期",
        "nationality": "CHN",
        "mobile": mobile,
        "address": address,
        **kw,
    }


def cases() -> tuple[list[tuple], dict[str, list[tuple]]]:
    """(policies, persons): policies as (policy_no, applied_on, [(role, seq, relation, party), …]);
    persons: truth person id -> [(policy_no, role, seq), …]."""
    policies: list[tuple] = []
    persons: dict[str, list[tuple]] = {}

    def policy(no, applied, *members):
        policies.append((no, applied, [(role, seq, rel, p) for role, seq, rel, p, _pid in members]))
        for role, seq, _rel, _p, pid in members:
            persons.setdefault(pid, []).append((no, role, seq))

    # the crowd: six unrelated 王伟, 张伟 and 李娜 each born in 1980, and two of 王伟 and of 李娜 born
    # on one day
    crowd = [("王伟", "M", "11"), ("张伟", "M", "12"), ("李娜", "F", "13")]
    n = 0
    for name, gender, code in crowd:
        days = [f"1980-{i + 1:02d}-{10 + i:02d}" for i in range(6)]
        if name != "张伟":
            days.append(days[0])  # a namesake born the same day
        for i, birth in enumerate(days):
            n += 1
            seq = f"{(2 * n + 1) if gender == 'M' else (2 * n):03d}"
            p = person(
                name,
                gender,
                birth,
                rid(f"1101{code}", birth, seq),
                f"139{code}00{n:04d}",
                f"北京市朝阳区建国路{100 + n}号{i + 1}栋{i + 1}01室",
            )
            pid = f"HC-CROWD-{n}"
            policy(
                f"ZCROWD{n:02d}", "2020-05-01", ("applicant", 1, "", p, pid), ("insured", 1, "self", p, pid)
            )

    # a family sharing one mobile and one address; twin daughters born the same day
    home, phone = "上海市浦东新区世纪大道88号3栋1202室", "13917770001"
    father = person("张建国", "M", "1970-03-04", rid("310115", "1970-03-04", "015"), phone, home)
    mother = person("李秀英", "F", "1972-08-09", rid("310115", "1972-08-09", "026"), phone, home)
    son = person("张小明", "M", "2000-01-02", rid("310115", "2000-01-02", "037"), phone, home)
    twin1 = person("张欣怡", "F", "2004-06-06", rid("310115", "2004-06-06", "048"), phone, home)
    twin2 = person("张欣悦", "F", "2004-06-06", rid("310115", "2004-06-06", "062"), phone, home)
    policy(
        "ZFAM1",
        "2019-01-01",
        ("applicant", 1, "", father, "HC-FAM-F"),
        ("insured", 1, "spouse", mother, "HC-FAM-M"),
        ("beneficiary", 1, "son", son, "HC-FAM-S"),
    )
    policy(
        "ZFAM2",
        "2021-01-01",
        ("applicant", 1, "", mother, "HC-FAM-M"),
        ("insured", 1, "son", son, "HC-FAM-S"),
        ("beneficiary", 1, "spouse", father, "HC-FAM-F"),
    )
    policy(
        "ZFAM3",
        "2022-01-01",
        ("applicant", 1, "", father, "HC-FAM-F"),
        ("insured", 1, "daughter", twin1, "HC-FAM-T1"),
        ("beneficiary", 1, "father", father, "HC-FAM-F"),
    )
    policy(
        "ZFAM4",
        "2022-01-01",
        ("applicant", 1, "", father, "HC-FAM-F"),
        ("insured", 1, "daughter", twin2, "HC-FAM-T2"),
        ("beneficiary", 1, "mother", mother, "HC-FAM-M"),
    )

    # one person: the 18-digit number now, its 15-digit form on an old policy with another phone and
    # address
    id18 = rid("440106", "1962-11-23", "417")
    new = person("陈志强", "M", "1962-11-23", id18, "13688880001", "广东省广州市天河区体育西路123号5栋601房")
    old = person(
        "陈志强", "M", "1962-11-23", id18[:6] + id18[8:17], "13500001111", "广东省广州市越秀区中山五路8号"
    )
    policy("ZLEG1", "2008-06-01", ("applicant", 1, "", old, "HC-LEG"), ("insured", 1, "self", old, "HC-LEG"))
    policy("ZLEG2", "2022-06-01", ("applicant", 1, "", new, "HC-LEG"))

    # one person: 张伟, the homophone 章伟, the traditional 張偉
    zw = person(
        "张伟",
        "M",
        "1985-07-07",
        rid("320102", "1985-07-07", "059"),
        "15851110000",
        "江苏省南京市玄武区中山路1号",
    )
    policy("ZHOM1", "2016-02-02", ("applicant", 1, "", zw, "HC-HOM"))
    policy("ZHOM2", "2023-02-02", ("applicant", 1, "", {**zw, "name": "章伟"}, "HC-HOM"))
    policy("ZHOM3", "2024-02-02", ("applicant", 1, "", {**zw, "name": "張偉"}, "HC-HOM"))
    return policies, persons


def _append(path: Path, rows: list[dict]) -> None:
    with path.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    with path.open("a", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])


def plant(book: Path) -> dict[str, list[tuple]]:
    """Append the cases to a synthetic book (a UTF-8 folder of CSVs with truth/persons.csv); the
    policies copy the first policy's product, branch and agent. Returns the truth of the cases."""
    book = Path(book)
    with (book / "policies.csv").open(encoding="utf-8") as f:
        template = next(csv.DictReader(f))
    policies, persons = cases()
    _append(
        book / "policies.csv",
        [
            {**template, "policy_no": no, "applied_on": applied, "issued_on": applied}
            for no, applied, _m in policies
        ],
    )
    _append(
        book / "parties.csv",
        [
            {"policy_no": no, "role": role, "seq": seq, "relation": rel, **p}
            for no, _applied, members in policies
            for role, seq, rel, p in members
        ],
    )
    truth = book / "truth" / "persons.csv"
    if truth.exists():
        _append(
            truth,
            [
                {"policy_no": k[0], "role": k[1], "seq": k[2], "person_id": pid}
                for pid, ks in persons.items()
                for k in ks
            ],
        )
    return persons
