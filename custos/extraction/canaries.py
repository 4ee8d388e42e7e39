"""The synthetic customers planted in an extraction file (canaries), made with custos.synth's generator
of realistic people. Kept out of custos.domain.canary, which is pure and does not import synth; the
caller (generation.py) checks each canary against the book and earlier canaries.
"""

from __future__ import annotations

import datetime as dt
import random

from custos.domain import ids, phones, refdata
from custos.domain.canary import CanaryPerson
from custos.synth import base as synth

_CALL_SEGMENTS: list[str] | None = None


def _call_segments() -> list[str]:
    global _CALL_SEGMENTS
    if _CALL_SEGMENTS is None:
        _CALL_SEGMENTS = sorted(p for p, s in refdata.mobile_segments().items() if s["valid"] and len(p) == 3)
    return _CALL_SEGMENTS


def _place(rng: random.Random, near: list[str]) -> synth.Place:
    """A county near the extraction's customers (same prefecture as one of their ID prefixes), else anywhere."""
    for code in rng.sample(near, min(len(near), 5)):
        same = [p for p in synth.PLACE_LIST if p.pref.code == code[:4]]
        if same:
            return rng.choice(same)
    return synth.ANY_PLACE(rng)


def make_canary(rng: random.Random, near: list[str] | None = None) -> CanaryPerson:
    """One synthetic customer that passes the checks a real one passes (valid ID check digit and date,
    allocated mobile segment, no placeholder patterns). Uniqueness against the book and other canaries
    is the caller's business: it has the database."""
    place = _place(rng, near or [])
    male = rng.random() < 0.5
    while True:
        birth = synth.ordinal(1955, 1, 1) + rng.randrange(365 * 45)
        seq = rng.randrange(1, 500) * 2 + (1 if male else 0)
        id_no = synth.resident_id(place.county.code, birth, seq)
        if not ids.is_placeholder(id_no) and ids.check_digit(id_no[:17]) == id_no[17]:
            break
    segments = _call_segments()
    while True:
        mobile = f"{rng.choice(segments)}{rng.randrange(10**8):08d}"
        if phones.mobile_valid(mobile) and not phones.mobile_placeholder(mobile):
            break
    surname = synth.SURNAME(rng)
    name = synth.han_name(rng, surname, male)
    address, postcode, _street = synth.address(rng, place)
    return CanaryPerson(
        name=name,
        gender="M" if male else "F",
        birth_date=dt.date.fromordinal(birth),
        id_no=id_no,
        mobile=mobile,
        phone=synth.fixed_line(rng, place.area_code),
        address=address,
        postcode=postcode,
        email=synth.email(rng, mobile),
    )
