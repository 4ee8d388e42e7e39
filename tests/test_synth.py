"""The synthetic book generator (custos.synth, docs/synth.md): format, determinism, realism, truth."""

import csv
import datetime
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from stdnum.cn import ric

from custos.domain.bookformat import TABLES
from custos.synth import CHECKS, DefectRates, generate_book
from custos.synth.rates import CHANNELS, untrue

BOOK_FILES = ("branches", "staff", "partners", "policies", "parties", "changes", "visits")


def read(path: Path, encoding: str = "utf-8") -> list[dict]:
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.DictReader(f))


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.csv"))
    }


# one worker builds the module's fixture (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_synth")


@pytest.fixture(scope="module")
def book3k(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("book3k")
    return out, generate_book(out, 3000, 11, workers=1)


@pytest.fixture(scope="module")
def book50k(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("book50k")
    return out, generate_book(out, 50_000, 5)


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    a = generate_book(tmp_path / "a", 5000, 3, workers=1, chunk_size=2000)  # three chunks, one process
    b = generate_book(tmp_path / "b", 5000, 3, workers=2, chunk_size=2000)  # three chunks, two processes
    assert a == b
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate_book(tmp_path / "c", 2000, 4, workers=1)
    assert digest(tmp_path / "c")["parties.csv"] != digest(tmp_path / "a")["parties.csv"]


def test_every_column_of_the_book_format_in_order(book3k):
    out, summary = book3k
    for name in BOOK_FILES:
        with open(out / f"{name}.csv", encoding="utf-8", newline="") as f:
            header = next(csv.reader(f))
        assert tuple(header) == TABLES[name].column_names, name
        assert summary["rows"][name] == len(read(out / f"{name}.csv")) > 0, name
    assert next(csv.reader(open(out / "truth/defects.csv"))) == ["check", "policy_no", "role", "seq", "field"]
    assert next(csv.reader(open(out / "truth/persons.csv"))) == ["policy_no", "role", "seq", "person_id"]
    assert next(csv.reader(open(out / "truth/blacklist.csv"))) == ["staff_no", "id_no", "name"]


def test_keys_and_references_hold(book3k):
    out, _ = book3k
    branches = {r["branch_code"]: r for r in read(out / "branches.csv")}
    staff = {r["staff_no"]: r for r in read(out / "staff.csv")}
    partners = {r["partner_code"] for r in read(out / "partners.csv")}
    policies = read(out / "policies.csv")
    assert {r["level"] for r in branches.values()} == {"head", "province", "city", "county", "outlet"}
    assert all(r["parent_code"] in branches for r in branches.values() if r["level"] != "head")
    assert all(s["supervisor_no"] in staff for s in staff.values() if s["supervisor_no"])
    assert {s["position"] for s in staff.values()} >= {
        "agent",
        "sales_manager",
        "operations",
        "customer_service",
        "compliance",
        "finance",
        "it",
        "executive",
    }
    assert any(s["left_on"] for s in staff.values())
    assert len({p["policy_no"] for p in policies}) == len(policies)
    assert {p["channel"] for p in policies} == set(CHANNELS)
    for p in policies:
        assert p["branch_code"] in branches and (not p["agent_no"] or p["agent_no"] in staff)
        assert not p["partner_code"] or p["partner_code"] in partners
        assert "2010-01-01" <= p["applied_on"] <= p["issued_on"] <= "2025-12-31"
    banc = [p for p in policies if p["channel"] == "bancassurance"]
    assert all(p["partner_code"] for p in banc)
    keys = Counter((r["policy_no"], r["role"], r["seq"]) for r in read(out / "parties.csv"))
    assert max(keys.values()) == 1
    persons = read(out / "truth/persons.csv")
    assert {(r["policy_no"], r["role"], r["seq"]) for r in persons} == set(keys)
    assert len({r["person_id"] for r in persons}) < len(persons)  # people appear on several policies


def test_every_check_of_the_catalogue_is_injected(book3k):
    out, summary = book3k
    defects = read(out / "truth/defects.csv")
    counts = Counter(d["check"] for d in defects)
    assert set(CHECKS) == set(counts)
    assert set(CHECKS) == {
        *(f"ID{i:02d}" for i in range(1, 13)),
        "NM01",
        "NM02",
        "NM03",
        "NM04",
        "BD01",
        "BD02",
        "BD03",
        "RL01",
        "RL02",
        "RL03",
        "RL04",
        *(f"PH0{i}" for i in range(1, 9)),
        *(f"AD0{i}" for i in range(1, 7)),
        "EM01",
        "EM02",
        "SC01",
        "SC02",
        "SC03",
        "SC04",
        "XC01",
        "XC02",
        "XC03",
    }
    assert all(n >= 3 for n in counts.values()), counts
    assert summary["defects"] == dict(sorted(counts.items()))
    parties = {(r["policy_no"], r["role"], r["seq"]) for r in read(out / "parties.csv")}
    policies = {r["policy_no"] for r in read(out / "policies.csv")}
    for d in defects:
        if d["check"] in ("SC03", "SC04"):
            assert (d["role"], d["seq"], d["policy_no"] in policies) == ("policy", "0", True)
        else:
            assert (d["policy_no"], d["role"], d["seq"]) in parties, d
            assert d["role"] in CHECKS[d["check"]][1], d
    assert len({tuple(d.values()) for d in defects}) == len(defects)  # no duplicate findings


def test_clean_ids_are_valid_and_unique(book3k):
    out, _ = book3k
    bad = {(d["policy_no"], d["role"], d["seq"]) for d in read(out / "truth/defects.csv")}
    owner: dict[str, str] = {}
    persons = {(r["policy_no"], r["role"], r["seq"]): r["person_id"] for r in read(out / "truth/persons.csv")}
    n = 0
    for r in read(out / "parties.csv"):
        key = (r["policy_no"], r["role"], r["seq"])
        if key in bad or r["id_type"] not in ("resident_id", "household_register"):
            continue
        id_no = r["id_no"]
        assert len(id_no) == 18 and ric.calc_check_digit(id_no) == id_no[-1], r
        assert id_no[6:14] == r["birth_date"].replace("-", "")
        assert int(id_no[16]) % 2 == (1 if r["gender"] == "M" else 0)
        assert owner.setdefault(id_no, persons[key]) == persons[key]  # one number, one person
        n += 1
    for s in read(out / "staff.csv"):
        assert ric.calc_check_digit(s["id_no"]) == s["id_no"][-1]
        assert s["id_no"] not in owner or owner[s["id_no"]] == f"S{s['staff_no']}"
    assert n > 5000


def test_id07_only_on_resident_ids_and_no_repeated_character_names(book3k):
    """ID07 needs the ID's gender digit: never injected on a permit or passport (XC01 included); a
    clean name is never one repeated character (龙龙龙 would be NM02)."""
    out, _ = book3k
    defects = read(out / "truth/defects.csv")
    parties = {(r["policy_no"], r["role"], r["seq"]): r for r in read(out / "parties.csv")}
    id07 = [parties[(d["policy_no"], d["role"], d["seq"])] for d in defects if d["check"] == "ID07"]
    assert id07 and all(p["id_type"] in ("resident_id", "household_register") for p in id07)
    nm = {(d["policy_no"], d["role"], d["seq"]) for d in defects if d["check"].startswith("NM")}
    for key, p in parties.items():
        if key not in nm and len(p["name"]) >= 2:
            assert len(set(p["name"])) > 1, p["name"]


def _age(birth: str, at: str) -> int:
    b, a = datetime.date.fromisoformat(birth), datetime.date.fromisoformat(at)
    return a.year - b.year - ((a.month, a.day) < (b.month, b.day))


MALE = {
    "father",
    "son",
    "grandfather",
    "grandson",
    "elder_brother",
    "younger_brother",
    "father_in_law",
    "son_in_law",
}
FEMALE = {
    "mother",
    "daughter",
    "grandmother",
    "granddaughter",
    "elder_sister",
    "younger_sister",
    "mother_in_law",
    "daughter_in_law",
}
OLDER = {
    "father": 12,
    "mother": 12,
    "grandfather": 30,
    "grandmother": 30,
    "elder_brother": 0,
    "elder_sister": 0,
}


def test_families_are_consistent_where_nothing_was_injected(book3k):
    out, _ = book3k
    policies = {p["policy_no"]: p for p in read(out / "policies.csv")}
    touched = {d["policy_no"] for d in read(out / "truth/defects.csv")}
    by_policy = defaultdict(dict)
    for r in read(out / "parties.csv"):
        by_policy[r["policy_no"]][(r["role"], r["seq"])] = r
    checked = Counter()
    for policy_no, rows in by_policy.items():
        if policy_no in touched:
            continue
        applied = policies[policy_no]["applied_on"]
        app, ins = rows[("applicant", "1")], rows[("insured", "1")]
        assert _age(app["birth_date"], applied) >= 18
        for (role, _seq), r in rows.items():
            if role == "applicant":
                continue
            base = app if role == "insured" else ins
            rel = r["relation"]
            assert rel, r
            assert not (rel in MALE and r["gender"] != "M") and not (rel in FEMALE and r["gender"] != "F"), r
            if rel in OLDER:
                assert (
                    _age(r["birth_date"], base["birth_date"]) >= OLDER[rel]
                    or r["birth_date"] < base["birth_date"]
                ), r
            elif rel in ("son", "daughter", "grandson", "granddaughter", "younger_brother", "younger_sister"):
                assert r["birth_date"] > base["birth_date"], r
            if rel == "spouse":
                assert _age(r["birth_date"], applied) >= (22 if r["gender"] == "M" else 20), r
            if rel == "self":
                assert (r["name"], r["id_no"], r["birth_date"]) == (
                    app["name"],
                    app["id_no"],
                    app["birth_date"],
                )
            assert r["birth_date"] < applied
            checked[rel] += 1
        assert app["mobile"] or app["phone"]
        assert len(app["address"]) >= 8 and any(c.isdigit() for c in app["address"])
    assert {"self", "spouse", "son", "daughter", "father", "mother"} <= set(checked)


def test_clean_contacts_do_not_collide(book3k):
    out, _ = book3k
    touched = {d["policy_no"] for d in read(out / "truth/defects.csv")}
    staff_mobiles = {s["mobile"] for s in read(out / "staff.csv")}
    outlet_phones = {b["phone"] for b in read(out / "branches.csv")} | {
        p["phone"] for p in read(out / "partners.csv")
    }
    persons = {(r["policy_no"], r["role"], r["seq"]): r["person_id"] for r in read(out / "truth/persons.csv")}
    owners = defaultdict(set)
    for r in read(out / "parties.csv"):
        if r["policy_no"] in touched:
            continue
        if r["mobile"]:
            assert r["mobile"][:3] not in ("140", "141", "144", "148") and len(r["mobile"]) == 11
            assert r["mobile"] not in staff_mobiles
            owners[r["mobile"]].add(persons[(r["policy_no"], r["role"], r["seq"])])
        assert r["phone"] not in outlet_phones or not r["phone"]
        if r["phone"]:
            area, number = r["phone"].split("-")
            assert len(number) == 8 if area[1] in "12" else len(number) in (7, 8)
        if r["postcode"]:
            assert len(r["postcode"]) == 6 and r["postcode"].isdigit()
    assert max(len(v) for v in owners.values()) == 1  # one mobile, one person


def test_channel_rates_match_the_2014_inspection(book50k):
    out, _ = book50k
    policies = read(out / "policies.csv")
    channel = {p["policy_no"]: p["channel"] for p in policies}
    n = Counter(channel.values())
    bad = defaultdict(set)
    for d in read(out / "truth/defects.csv"):
        if untrue(d["check"]):
            bad[channel[d["policy_no"]]].add(d["policy_no"])
    rates = DefectRates()
    for c in CHANNELS:
        assert abs(n[c] / len(policies) - rates.channel_mix[c]) < 0.01, c
    banc = len(bad["bancassurance"]) / n["bancassurance"]
    agency = len(bad["agency"]) / n["agency"]
    others = sum(len(bad[c]) for c in CHANNELS[2:]) / sum(n[c] for c in CHANNELS[2:])
    overall = sum(len(v) for v in bad.values()) / len(policies)
    assert 0.058 < banc < 0.071, banc
    assert 0.0045 < agency < 0.0095, agency
    assert 0.004 < others < 0.014, others
    assert 0.036 < overall < 0.045, overall
    assert abs(rates.overall_untrue() - 0.0402) < 0.0002


def test_rates_yaml_overrides_and_rejects(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("untrue:\n  agency: 0.2\nrepeat_customers: 0.05\n")
    r = DefectRates.from_yaml(f)
    assert r.untrue["agency"] == 0.2 and r.untrue["bancassurance"] == 0.0643 and r.repeat_customers == 0.05
    f.write_text("untrue:\n  lottery: 0.2\n")
    with pytest.raises(ValueError, match="lottery"):
        DefectRates.from_yaml(f)


def test_gb18030_book(tmp_path):
    generate_book(tmp_path / "gbk", 300, 2, encoding="gb18030", workers=1)
    generate_book(tmp_path / "utf8", 300, 2, workers=1)
    for name in BOOK_FILES:
        raw = (tmp_path / "gbk" / f"{name}.csv").read_bytes()
        assert raw.decode("gb18030") == (tmp_path / "utf8" / f"{name}.csv").read_bytes().decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        (tmp_path / "gbk" / "parties.csv").read_bytes().decode("utf-8")


def test_command_writes_a_book_and_fails_with_one_line(tmp_path, capsys):
    call_command("synth", str(tmp_path / "b"), policies=500, seed=9, workers=1)
    assert "500 policies" in capsys.readouterr().out
    assert len(read(tmp_path / "b" / "policies.csv")) == 500
    with pytest.raises(CommandError, match="at least 1"):
        call_command("synth", str(tmp_path / "c"), policies=0, seed=1)
    with pytest.raises(CommandError, match="rates file not found"):
        call_command("synth", str(tmp_path / "c"), policies=10, seed=1, rates=str(tmp_path / "none.yaml"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(CommandError, match="not a folder"):
        call_command("synth", str(tmp_path / "file"), policies=10, seed=1)


def test_console_script_exit_status(tmp_path):
    import subprocess
    import sys

    script = Path(sys.prefix) / "bin" / "custos"
    ok = subprocess.run(
        [script, "synth", "--policies", "50", "--seed", "1", tmp_path / "b"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "50 policies" in ok.stdout and not ok.stderr
    bad = subprocess.run([script, "synth", "--policies", "0", tmp_path / "c"], capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0
