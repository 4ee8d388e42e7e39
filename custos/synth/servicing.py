"""After issue: the changes to a policy's parties and the return visits (a mixin of `Chunk`)."""

from __future__ import annotations

from custos.synth import base, words
from custos.synth.base import Picker, iso, pk, ri
from custos.synth.people import (
    ADDR,
    FIELD,
    MOB,
    OCC,
    PHONE,
    ROLE,
    SEQ,
)

METHOD = Picker((("phone", 80), ("sms", 8), ("wechat", 7), ("onsite", 3), ("letter", 2)))
OUTCOME = Picker((("success", 90), ("no_answer", 7), ("refused", 3)))


class Servicing:
    # --- changes and visits ----------------------------------------------------------------------
    def _service(self, policy_no, rows, kind, outlet, applied, issued) -> None:
        rng = self.rng
        city = outlet.city
        app = next((r for p, r in rows if r[ROLE] == "applicant"), None)
        if app is not None and rng.random() < 0.04 and kind != "SC01":
            field = pk(rng, (MOB, ADDR, OCC)) if app[MOB] else OCC
            when = self._after(issued)
            old = self._old_value(field, app)
            req = f"BQ{when[:4]}{ri(rng, 10000000, 99999999)}"
            if field == OCC:
                req = "" if rng.random() < 0.5 else req  # occupation is not a contact field: no SC01
            self.w["changes"].writerow(
                [
                    policy_no,
                    "applicant",
                    1,
                    FIELD[field],
                    old,
                    app[field],
                    when,
                    city.operations[int(rng.random() * (len(city.operations)))].staff_no,
                    req,
                ]
            )
            self.counts["changes"] += 1
        if kind == "SC01":
            cands = [(r, f) for p, r in rows for f in (MOB, PHONE, ADDR) if r[f] and r[ROLE] != "beneficiary"]
            r, field = cands[int(rng.random() * (len(cands)))]
            self.w["changes"].writerow(
                [
                    policy_no,
                    r[ROLE],
                    r[SEQ],
                    FIELD[field],
                    self._old_value(field, r),
                    r[field],
                    self._after(issued),
                    city.operations[int(rng.random() * (len(city.operations)))].staff_no,
                    "",
                ]
            )
            self.counts["changes"] += 1
            self._truth("SC01", policy_no, r[ROLE], r[SEQ], FIELD[field])
        if app is None or (rng.random() > 0.85 and kind != "PH08"):
            return
        staff = city.service[int(rng.random() * (len(city.service)))].staff_no
        when = issued + ri(rng, 3, 20)
        method = METHOD(rng)
        contact = app[MOB] or app[PHONE]
        if method == "letter" or not contact:
            method, contact = "letter", app[ADDR]
        elif method == "onsite":
            contact = app[ADDR]
        outcome = OUTCOME(rng)
        if kind == "PH08":
            method = "phone"
            contact = app[MOB] or app[PHONE]
            outcome = pk(rng, ("mismatch", "mismatch", "wrong_number"))
            self._truth("PH08", policy_no, "applicant", 1, "mobile" if app[MOB] else "phone")
        wv = self.w["visits"].writerow
        wv([policy_no, self._ts(when), method, contact, outcome, staff])
        self.counts["visits"] += 1
        if outcome == "no_answer":
            wv([policy_no, self._ts(when + ri(rng, 1, 5)), method, contact, "success", staff])
            self.counts["visits"] += 1

    def _ts(self, day: int) -> str:
        m, sec = divmod(int(self.rng.random() * 32400), 60)
        h, m = divmod(m, 60)
        return f"{iso(min(day, base.BOOK_END))}T{h + 9:02d}:{m:02d}:{sec:02d}"

    def _after(self, issued: int) -> str:
        day = issued + ri(self.rng, 20, 1200)
        if day > base.BOOK_END:
            day = max(issued + 1, base.BOOK_END - ri(self.rng, 0, 10))
        return self._ts(day)

    def _old_value(self, field: int, row: list) -> str:
        rng = self.rng
        if field == MOB:
            return self._mobile()
        if field == OCC:
            return words.OCCUPATIONS[int(rng.random() * (len(words.OCCUPATIONS) - 1))]
        if field == PHONE:
            return base.fixed_line(rng, self._ctx[1].place.area_code)
        return base.address(rng, self._ctx[1].place)[0]
