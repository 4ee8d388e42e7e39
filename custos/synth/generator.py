"""generate_book: the organisation in this process, the policies in chunks (in parallel when the
book has several), then the parts concatenated in chunk order and the cross-chunk truth added."""

from __future__ import annotations

import csv
import multiprocessing
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from custos.domain.bookformat import TABLES
from custos.synth.base import iso
from custos.synth.chunk import CHUNK, Chunk
from custos.synth.commissions import write_commissions
from custos.synth.org import Org
from custos.synth.rates import DefectRates

TRUTH_DEFECTS = ("check", "policy_no", "role", "seq", "field")
TRUTH_PERSONS = ("policy_no", "role", "seq", "person_id")
_STATE: dict = {}


def _run_chunk(index: int) -> dict:
    st = _STATE
    size = st["chunk_size"]
    n = min(size, st["policies"] - index * size)
    chunk = Chunk(st["org"], st["seed"], index, n, index * size, st["rates"])
    return chunk.run(st["parts"], st["encoding"])


def generate_book(
    out_dir: Path,
    policies: int,
    seed: int,
    rates: DefectRates | None = None,
    progress: Callable[[int, int], None] | None = None,
    encoding: str = "utf-8",
    workers: int | None = None,
    chunk_size: int = CHUNK,
) -> dict:
    """Write a synthetic book (the eight tables of shared/book-format.md, commissions.csv last, read
    back from policies.csv by custos.synth.commissions) and its ground truth (truth/defects.csv,
    truth/persons.csv, truth/blacklist.csv) to `out_dir`.

    Same seed, same bytes (whatever `workers`; `chunk_size` changes them: tests only). Returns row counts per table and defect counts per
    check. `encoding` may be "gb18030" (or "gbk") to write the tables as Chinese core systems do.
    """
    if policies < 1:
        raise ValueError("policies must be at least 1")
    rates = rates or DefectRates()
    rates.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    parts = out / ".parts"
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir()
    org = Org(seed, policies)
    _write(out / "branches.csv", TABLES["branches"].column_names, org.branches, encoding)
    _write(out / "staff.csv", TABLES["staff"].column_names, (s.row() for s in org.staff), encoding)
    _write(out / "partners.csv", TABLES["partners"].column_names, (p.row() for p in org.partners), encoding)
    _write(
        out / "truth" / "blacklist.csv",
        ("staff_no", "id_no", "name"),
        ((s.staff_no, s.id_no, s.name) for s in org.blacklist),
        "utf-8",
    )
    # the same people as the association lists them (custos blacklist add): no staff number travels
    _write(
        out / "truth" / "blacklist_association.csv",
        ("id_no", "name", "company", "reason", "dismissed_on"),
        (
            (s.id_no, s.name, "示例人寿保险股份有限公司", "泄露、倒卖客户信息", iso(s.left))
            for s in org.blacklist
        ),
        "utf-8",
    )
    n_chunks = -(-policies // chunk_size)
    _STATE.update(
        org=org,
        seed=seed,
        policies=policies,
        rates=rates,
        parts=parts,
        encoding=encoding,
        chunk_size=chunk_size,
    )
    results: list[dict] = []
    done = 0
    if progress:
        progress(0, policies)
    workers = workers or min(n_chunks, os.cpu_count() or 1)
    try:
        if workers > 1 and n_chunks > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers) as pool:
                for res in pool.imap(_run_chunk, range(n_chunks)):
                    results.append(res)
                    done += res["counts"]["policies"]
                    if progress:
                        progress(done, policies)
        else:
            for k in range(n_chunks):
                res = _run_chunk(k)
                results.append(res)
                done += res["counts"]["policies"]
                if progress:
                    progress(done, policies)
    finally:
        _STATE.clear()
    for name in ("policies", "parties", "changes", "visits"):
        _concat(out / f"{name}.csv", TABLES[name].column_names, parts, name, n_chunks, encoding)
    _concat(out / "truth" / "persons.csv", TRUTH_PERSONS, parts, "persons", n_chunks, encoding)
    extra = _shared_values(results)
    _concat(out / "truth" / "defects.csv", TRUTH_DEFECTS, parts, "defects", n_chunks, encoding, extra)
    shutil.rmtree(parts)
    commissions = write_commissions(out, seed, encoding)
    if encoding.lower().replace("-", "") != "utf8":
        # truth files are always UTF-8
        for name in ("persons", "defects"):
            path = out / "truth" / f"{name}.csv"
            path.write_text(path.read_text(encoding=encoding), encoding="utf-8")
    defects = Counter()
    for res in results:
        defects.update(res["defects"])
    defects.update(e[0] for e in extra)
    rows = {
        "branches": len(org.branches),
        "staff": len(org.staff),
        "partners": len(org.partners),
        **{k: sum(r["counts"][k] for r in results) for k in ("policies", "parties", "changes", "visits")},
        "commissions": commissions,
    }
    return {"rows": rows, "defects": dict(sorted(defects.items())), "blacklist": len(org.blacklist)}


def _shared_values(results: list[dict]) -> list[tuple]:
    """Values injected from a finite set (staff mobiles, placeholders, outlet addresses) may end up
    on 3+ unrelated applicants across the book: then PH06 / AD05 fire too, and are listed."""
    extra = []
    for key, check, field in (("agg_mobile", "PH06", "mobile"), ("agg_addr", "AD05", "address")):
        groups: dict[str, list] = defaultdict(list)
        for res in results:
            for value, policy_no, uid in res[key]:
                groups[value].append((policy_no, uid))
        for value in sorted(groups):
            members = groups[value]
            if len({uid for _, uid in members}) >= 3:
                extra.extend((check, policy_no, "applicant", 1, field) for policy_no, _ in members)
    return extra


def _write(path: Path, header, rows, encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _concat(path: Path, header, parts: Path, name: str, n: int, encoding: str, extra=()) -> None:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerow(header)
        f.flush()
        for k in range(n):
            with open(parts / f"{name}.{k:05d}.part", encoding=encoding, newline="") as src:
                shutil.copyfileobj(src, f, 1 << 20)
        if extra:
            csv.writer(f).writerows(extra)
