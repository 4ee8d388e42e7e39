"""Canaries and per-recipient fingerprints of an extraction file. Pure: no Django, no I/O.

An approved extraction is made traceable three ways, all derived from one secret key per extraction
(`extraction_key`: an HMAC of the extraction's id and random nonce under a key of the keyring, so
nobody can recompute them from the database alone):

1. **Canaries** — a few synthetic customers unique to the extraction (`CanaryPerson`, made by
   `custos.extraction.canaries` with custos.synth, which this pure module does not import): a
   real-looking name, a resident ID number with a valid GB 11643 check digit and a real county code, a
   mobile in a segment MIIT allocated for calls, an address and a fixed line of the same county. Placed
   at pseudo-random positions (`canary_positions`). They survive any copy, paste, re-sort or re-save.
2. **Row order** — the real rows are ordered by a keyed hash of their identity (`row_order`): two
   recipients of overlapping scopes receive the same rows in independent orders. Survives copy-paste
   of a contiguous block; lost when the leaker re-sorts.
3. **Whitespace marks** — a keyed half of the real rows carry one trailing space in one text cell
   (`mark_bit`, `MARK`). Invisible on screen, kept by copy-paste and re-saving; lost when the leaker
   trims every cell.

`binomial_tail` turns the agreement of a leaked file with an extraction's order or marks into the
chance that a file *not* derived from it agrees at least that well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import random
import re
from dataclasses import dataclass

MARK = " "  # appended to one text cell of a marked row
_WS_END = re.compile(r"[ \u00a0\u3000]$")


def extraction_key(master: bytes, extraction_id: int, nonce: str) -> bytes:
    return hmac.new(
        master, f"custos.extraction\x00{extraction_id}\x00{nonce}".encode(), hashlib.sha256
    ).digest()


def _h(key: bytes, label: str, value: str) -> bytes:
    return hmac.new(key, f"{label}\x00{value}".encode(), hashlib.sha256).digest()


def rng_for(key: bytes, label: str) -> random.Random:
    return random.Random(int.from_bytes(_h(key, "rng", label), "big"))  # noqa: S311 - keyed, not crypto


def row_order(key: bytes, row_keys: list[str]) -> list[int]:
    """Indices of row_keys in the order of their keyed hash: a per-extraction permutation."""
    return sorted(range(len(row_keys)), key=lambda i: _h(key, "order", row_keys[i]))


def mark_bit(key: bytes, row_key: str) -> bool:
    return _h(key, "mark", row_key)[0] & 1 == 1


def has_mark(cell: str | None) -> bool:
    return bool(cell) and _WS_END.search(cell) is not None


def canary_count(rows: int, rate: float = 0.02, minimum: int = 3, maximum: int = 25) -> int:
    """How many canaries an extraction of `rows` real rows carries: 2 % of them, at least 3, at most 25."""
    return max(minimum, min(maximum, round(rows * rate)))


def canary_positions(key: bytes, real_rows: int, n: int) -> list[int]:
    """Sorted positions (0-based, in the final file of real_rows + n data rows) of the n canaries."""
    return sorted(rng_for(key, "positions").sample(range(real_rows + n), n))


@dataclass(frozen=True)
class CanaryPerson:
    name: str
    gender: str
    birth_date: dt.date
    id_no: str
    mobile: str
    phone: str
    address: str
    postcode: str
    email: str

    def values(self) -> dict[str, str]:
        return {
            "name": self.name,
            "gender": self.gender,
            "birth_date": self.birth_date.isoformat(),
            "id_type": "resident_id",
            "id_no": self.id_no,
            "mobile": self.mobile,
            "phone": self.phone,
            "address": self.address,
            "postcode": self.postcode,
            "email": self.email,
            "nationality": "CHN",
        }


def fake_policy_no(rng: random.Random, template: str) -> str:
    """A policy number shaped like `template`: its last (up to 6) digits replaced by random ones."""
    chars = list(template or "P000000")
    digits = [i for i, c in enumerate(chars) if c.isdigit()][-6:]
    if not digits:
        return (template or "P") + f"{rng.randrange(10**6):06d}"
    for i in digits:
        chars[i] = str(rng.randrange(10))
    return "".join(chars)


def binomial_tail(k: int, n: int, p: float = 0.5) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the chance of k or more agreements out of n by coincidence."""
    if n <= 0 or k <= 0:
        return 1.0
    return min(1.0, sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def ascending_pairs(positions: list[int]) -> tuple[int, int]:
    """(pairs in ascending order, pairs) over consecutive positions: how well a leaked file keeps an
    extraction's row order. A copy of a block of the file scores n/n; an independent order about n/2."""
    pairs = [(a, b) for a, b in zip(positions, positions[1:], strict=False) if a != b]
    return sum(1 for a, b in pairs if a < b), len(pairs)
