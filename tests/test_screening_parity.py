"""Parity: every policy of a synthetic book, screened one by one through POST /api/v1/screen against
the context store built from the loaded book, gets exactly the findings the batch engine (DuckDB)
reports for it over the whole book."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if v is None:
            continue
        out[k] = v.isoformat() if isinstance(v, dt.date) else v
    return out


def test_parity_with_batch_engine(client, custos_home, tmp_path):
    import pyarrow.csv as pacsv

    from custos.book.services import load_book
    from custos.checks.catalogue import CheckSettings
    from custos.checks.engine import run_checks
    from custos.crypto import snapshot as esnap
    from custos.screening.context import build_from_snapshot
    from custos.screening.models import Client
    from custos.synth import generate_book

    book = tmp_path / "book"
    generate_book(book, 300, 11)
    load = load_book(book)
    assert load.status == "done", load.errors
    snap = Path(load.snapshot_path)
    # the industry blacklist rides along in the snapshot (the loader has no table for it)
    opts = pacsv.ConvertOptions(column_types=dict.fromkeys(("staff_no", "id_no", "name"), "string"))
    blacklist = pacsv.read_csv(book / "truth" / "blacklist.csv", convert_options=opts)
    esnap.write_table(snap, "blacklist", blacklist.select(["staff_no", "id_no", "name"]))
    build_from_snapshot(snap, load_id=load.pk)
    expected: dict[str, list] = {}
    for r in run_checks(snap, settings=CheckSettings()).to_pylist():
        expected.setdefault(r["policy_no"], []).append(
            (r["check"], r["role"], r["seq"], r["field"], r["proposed"])
        )
    policies = esnap.read_arrow(snap, "policies").to_pylist()
    parties: dict[str, list] = {}
    for p in esnap.read_arrow(snap, "parties").to_pylist():
        parties.setdefault(p["policy_no"], []).append(_jsonable(p))
    secret = Client.issue("parity")[1]
    mismatches = []
    for pol in policies:
        doc = {
            "application_id": pol["policy_no"],
            "policy": _jsonable(pol),
            "parties": parties[pol["policy_no"]],
        }
        resp = client.post(
            "/api/v1/screen",
            json.dumps(doc, ensure_ascii=False),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        assert resp.status_code == 200, resp.content
        got = sorted(
            (f["code"], f["role"], f["seq"], f["field"], f["proposed"]) for f in resp.json()["findings"]
        )
        want = sorted(expected.get(pol["policy_no"], []))
        if got != want:
            mismatches.append((pol["policy_no"], sorted(set(want) - set(got)), sorted(set(got) - set(want))))
    assert sum(len(v) for v in expected.values()) > 50  # the book has defects of many kinds
    cross = {c for v in expected.values() for (c, *_rest) in v} & {
        "ID09",
        "PH05",
        "PH06",
        "PH07",
        "PH08",
        "AD04",
        "AD05",
        "SC01",
        "SC02",
        "SC03",
    }
    assert len(cross) >= 5, cross
    assert not mismatches, (len(mismatches), mismatches[:10])
