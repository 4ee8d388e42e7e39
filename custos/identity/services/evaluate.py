"""Pairwise precision and recall, and B-cubed, of persons against a truth file
(``truth/persons.csv`` of a synthetic book: policy_no,role,seq,person_id)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path


def read_assignment(path: Path) -> dict[tuple[str, str, int], str]:
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        return {(r["policy_no"], r["role"], int(r["seq"])): r["person_id"] for r in csv.DictReader(f)}


def _pairs(groups: dict[str, list]) -> int:
    return sum(len(m) * (len(m) - 1) // 2 for m in groups.values())


def scores(found: dict, truth: dict) -> dict:
    """found, truth: key -> person id (over the keys both name). Returns pairwise precision, recall
    and F1, B-cubed precision and recall, and the pair counts."""
    keys = found.keys() & truth.keys()
    by_found: dict[str, list] = defaultdict(list)
    by_truth: dict[str, list] = defaultdict(list)
    both: dict[tuple, list] = defaultdict(list)
    for k in keys:
        by_found[found[k]].append(k)
        by_truth[truth[k]].append(k)
        both[(found[k], truth[k])].append(k)
    tp, pf, pt = _pairs(both), _pairs(by_found), _pairs(by_truth)
    precision = tp / pf if pf else 1.0
    recall = tp / pt if pt else 1.0
    b3p = sum(len(both[(found[k], truth[k])]) / len(by_found[found[k]]) for k in keys) / max(len(keys), 1)
    b3r = sum(len(both[(found[k], truth[k])]) / len(by_truth[truth[k]]) for k in keys) / max(len(keys), 1)
    return {
        "records": len(keys),
        "true_pairs": pt,
        "found_pairs": pf,
        "correct_pairs": tp,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "bcubed_precision": b3p,
        "bcubed_recall": b3r,
    }
