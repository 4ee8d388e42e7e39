"""`custos persons export OUT.csv`: which person every party is (policy_no, role, seq, person_id).

The file names no customer value: only the book's keys and custos's person ids."""

from __future__ import annotations

import csv
from pathlib import Path

from custos.identity.models import PersonRecord, pid

COLUMNS = ("policy_no", "role", "seq", "person_id")


def export_csv(out: Path) -> int:
    """Write the file (UTF-8, header first, sorted by key); return the number of rows."""
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise FileNotFoundError(f"{out.parent} does not exist")
    n = 0
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        qs = PersonRecord.objects.order_by("policy_no", "role", "seq").values_list(
            "policy_no", "role", "seq", "person__number"
        )
        for p, r, s, num in qs.iterator(chunk_size=10000):
            w.writerow((p, r, s, pid(num)))
            n += 1
    tmp.replace(out)
    return n
