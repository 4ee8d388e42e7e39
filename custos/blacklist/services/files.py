"""Reading the exchange's CSV files: every row checked before anything is done, errors naming the
file, the row and the column (all or nothing)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from custos.domain import ids

ADD_COLUMNS = ("id_no", "name", "company", "reason", "dismissed_on")
MAX_ROWS = 200_000


class FileError(ValueError):
    """A file that cannot be used; str() names the file, row and column of every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__("; ".join(problems[:5]) + more)


def normalise_id(value: str | None) -> tuple[str | None, str]:
    """(the 18-character resident ID number, "") or (None, why not). Half-width, trimmed, x → X; a
    15-digit number is upgraded to 18; the check digit and the birth date must be right."""
    n = ids.normalize(value)
    if not n:
        return None, "empty ID number"
    if ids.is_15(n):
        if ids.birth_date(n) is None:
            return None, "not a valid 15-digit ID number (birth date)"
        return ids.upgrade15(n), ""
    if not ids.is_18(n):
        return None, "not an 18-digit (or 15-digit) resident ID number"
    if ids.check_digit(n[:17]) != n[17]:
        return None, "wrong check digit"
    if ids.birth_date(n) is None:
        return None, "not a valid birth date in the ID number"
    return n, ""


@dataclass(frozen=True)
class Listed:
    id_no: str
    name: str
    company: str
    reason: str
    dismissed_on: dt.date | None


def _rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict]]]:
    path = Path(path)
    if not path.exists():
        raise FileError([f"{path.name}: no such file"])
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise FileError([f"{path.name}: row 1: missing column(s) {', '.join(missing)}"])
            reader.fieldnames = header
            rows = []
            for i, row in enumerate(reader, start=2):
                if i > MAX_ROWS + 1:
                    raise FileError([f"{path.name}: more than {MAX_ROWS:,} rows"])
                if None in row:
                    raise FileError([f"{path.name}: row {i}: more values than columns"])
                rows.append((i, {k: (v or "").strip() for k, v in row.items()}))
    except UnicodeDecodeError as exc:
        raise FileError([f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    except csv.Error as exc:
        raise FileError([f"{path.name}: not a CSV file ({exc})"]) from exc
    return header, rows


def read_listed(path: Path) -> list[Listed]:
    """The rows of an association's list file (id_no,name,company,reason,dismissed_on)."""
    path = Path(path)
    _header, rows = _rows(path, ADD_COLUMNS)
    problems, out, seen = [], [], {}
    for i, row in rows:
        number, why = normalise_id(row["id_no"])
        if number is None:
            problems.append(f"{path.name}: row {i}: column id_no: {why}")
        elif number in seen:
            problems.append(f"{path.name}: row {i}: column id_no: the same person as row {seen[number]}")
        else:
            seen[number] = i
        if not row["name"]:
            problems.append(f"{path.name}: row {i}: column name: empty")
        if not row["reason"]:
            problems.append(f"{path.name}: row {i}: column reason: empty")
        day = None
        if row["dismissed_on"]:
            try:
                day = dt.date.fromisoformat(row["dismissed_on"].replace("/", "-"))
            except ValueError:
                problems.append(f"{path.name}: row {i}: column dismissed_on: not a date (YYYY-MM-DD)")
        else:
            problems.append(f"{path.name}: row {i}: column dismissed_on: empty")
        if len(row["name"]) > 100 or len(row["company"]) > 200 or len(row["reason"]) > 2000:
            problems.append(f"{path.name}: row {i}: a value is too long")
        if number and not problems:
            out.append(Listed(number, row["name"], row["company"], row["reason"], day))
    if problems:
        raise FileError(problems)
    if not out:
        raise FileError([f"{path.name}: no rows"])
    return out


def read_candidates(path: Path) -> list[str]:
    """The ID numbers of a file of candidates (column id_no; name optional), normalised, in order,
    without repeats."""
    path = Path(path)
    _header, rows = _rows(path, ("id_no",))
    problems, out = [], {}
    for i, row in rows:
        number, why = normalise_id(row["id_no"])
        if number is None:
            problems.append(f"{path.name}: row {i}: column id_no: {why}")
        else:
            out.setdefault(number, i)
    if problems:
        raise FileError(problems)
    return list(out)
