"""Defect rates of the generator and the check catalogue it injects against (shared/rules.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

CHANNELS = ("bancassurance", "agency", "group", "internet", "telesales", "broker")
ALL = ("applicant", "insured", "beneficiary")
AI = ("applicant", "insured")
APP = ("applicant",)
IB = ("insured", "beneficiary")

# code -> (category, roles it applies to). "policy" = policy-level, "person" = linked person.
CHECKS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{f"ID{i:02d}": ("false", ALL) for i in range(1, 13)},
    "NM01": ("missing", ALL), "NM02": ("false", ALL), "NM03": ("false", ALL), "NM04": ("suspicious", ALL),
    "BD01": ("missing", ALL), "BD02": ("false", ALL), "BD03": ("suspicious", APP),
    "RL01": ("false", IB), "RL02": ("false", IB), "RL03": ("false", ("insured",)), "RL04": ("suspicious", IB),
    "PH01": ("missing", APP), "PH02": ("false", ALL), "PH03": ("false", ALL), "PH04": ("false", ALL),
    "PH05": ("false", AI), "PH06": ("suspicious", APP), "PH07": ("false", APP), "PH08": ("suspicious", APP),
    "AD01": ("missing", APP), "AD02": ("false", APP), "AD03": ("false", APP), "AD04": ("false", APP),
    "AD05": ("suspicious", APP), "AD06": ("suspicious", APP),
    "EM01": ("false", ALL), "EM02": ("suspicious", APP),
    "SC01": ("false", ALL), "SC02": ("suspicious", ("beneficiary",)), "SC03": ("suspicious", ("policy",)),
    "SC04": ("missing", ("policy",)),
    "XC01": ("suspicious", ALL), "XC02": ("missing", ALL), "XC03": ("suspicious", ALL),
}  # fmt: skip
CHECKS["ID01"] = ("missing", ALL)
CHECKS["ID10"] = ("missing", ALL)


def category(check: str) -> str:
    return CHECKS[check][0]


def untrue(check: str) -> bool:
    """Counted in the regulator's "untrue" rate (missing or false)."""
    return CHECKS[check][0] in ("missing", "false")


# Injection kinds of the untrue stream. Each kind is named after the check it targets; some kinds
# also make other checks fire (see docs/synth.md): XC01 (gender differs from the person's other
# policies) also fires ID07, XC03 (one-digit typo of the ID) also fires ID03.
MISSING_KINDS = {"ID01": 25, "PH01": 15, "AD01": 20, "ID10": 12, "BD01": 6, "NM01": 4, "SC04": 3, "XC02": 15}
FALSE_KINDS = {
    "PH05": 12, "PH07": 12, "AD04": 12, "AD03": 8, "ID03": 5, "ID06": 4, "ID07": 4, "PH02": 4, "PH04": 3,
    "ID02": 3, "ID12": 5, "RL01": 2, "RL02": 2, "RL03": 2, "NM02": 3, "NM03": 2, "ID04": 1, "ID05": 1,
    "ID08": 2, "ID09": 2, "ID11": 1, "BD02": 1, "AD02": 2, "EM01": 2, "SC01": 4, "PH03": 3, "XC01": 1,
    "XC03": 2,
}  # fmt: skip
# Agents mostly fill in their own phone; bank and post outlets their own phone and address.
FALSE_BY_CHANNEL = {
    "agency": {"PH05": 30, "PH07": 2, "AD04": 2},
    "bancassurance": {"PH05": 8, "PH07": 16, "AD04": 16},
}
SUSPICIOUS_KINDS = {
    "PH06": 10, "AD05": 8, "EM02": 6, "PH08": 20, "AD06": 10, "NM04": 6, "BD03": 6, "RL04": 6, "SC02": 8,
    "SC03": 10,
}  # fmt: skip
RING_KINDS = ("PH06", "AD05", "EM02")  # one event = 3 or 4 policies of unrelated applicants
PARTNER_KINDS = ("PH07", "AD04")  # need an outlet: sold through a partner (or at a branch)


@dataclass
class DefectRates:
    """Share of policies with an injected defect, by channel.

    ``untrue`` is the regulator's measure (missing + false, 2014 national inspection: bancassurance
    6.43 %, individual agency 0.7 %, other channels 0.8 %); ``missing_share`` splits it (3.2 % of 4.02 %).
    ``suspicious`` adds defects of the suspicious category, not counted as untrue. ``channel_mix`` is
    the share of policies by channel; with the defaults the book-wide untrue rate is 4.02 %.
    """

    untrue: dict[str, float] = field(
        default_factory=lambda: {
            "bancassurance": 0.0643,
            "agency": 0.007,
            "group": 0.008,
            "internet": 0.008,
            "telesales": 0.008,
            "broker": 0.008,
        }
    )
    missing_share: float = 3.2 / 4.02
    suspicious: dict[str, float] = field(
        default_factory=lambda: {c: 0.004 if c != "bancassurance" else 0.008 for c in CHANNELS}
    )
    channel_mix: dict[str, float] = field(
        default_factory=lambda: {
            "bancassurance": 0.578,
            "agency": 0.332,
            "group": 0.025,
            "internet": 0.025,
            "telesales": 0.025,
            "broker": 0.015,
        }
    )
    min_per_check: int = 3  # every check at least this often per book (placed in the first chunk)
    repeat_customers: float = 0.12  # share of families that buy again (same person, several policies)
    # Weights that replace those of MISSING_KINDS / FALSE_KINDS / SUSPICIOUS_KINDS (0 drops a kind),
    # e.g. {"XC02": 0}: XC02 is untrue in the truth but only identity resolution finds it.
    kinds: dict[str, float] = field(default_factory=dict)
    # Every policy in force with a term over one year: the population of the 2014 inspection and of
    # the regulator's summary (custos/report), so that its rates are the generator's.
    in_scope: bool = False

    def overall_untrue(self) -> float:
        total = sum(self.channel_mix.values())
        return sum(self.channel_mix[c] * self.untrue.get(c, 0.0) for c in CHANNELS) / total

    def weights(self, kinds: dict[str, float]) -> dict[str, float]:
        return {k: self.kinds.get(k, w) for k, w in kinds.items()}

    def validate(self) -> None:
        unknown_kinds = set(self.kinds) - set(CHECKS)
        if unknown_kinds:
            raise ValueError(f"kinds: unknown check(s) {', '.join(sorted(unknown_kinds))}")
        if any(float(w) < 0 for w in self.kinds.values()):
            raise ValueError("kinds: weights must not be negative")
        for name in ("untrue", "suspicious", "channel_mix"):
            d = getattr(self, name)
            unknown = set(d) - set(CHANNELS)
            if unknown:
                raise ValueError(f"{name}: unknown channel(s) {', '.join(sorted(unknown))}")
            for c, v in d.items():
                if not 0 <= float(v) <= 1:
                    raise ValueError(f"{name}.{c} must be between 0 and 1, got {v}")
        if sum(self.channel_mix.values()) <= 0:
            raise ValueError("channel_mix must have a positive total")
        if not 0 <= self.missing_share <= 1:
            raise ValueError("missing_share must be between 0 and 1")

    @classmethod
    def from_yaml(cls, path: str | Path) -> DefectRates:
        """Defaults overridden by a YAML mapping with any of the fields (dicts are merged)."""
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of rate settings")
        rates = cls()
        names = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in names:
                raise ValueError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(names))})")
            current = getattr(rates, key)
            if isinstance(current, dict):
                if not isinstance(value, dict):
                    raise ValueError(f"{path}: {key} must be a mapping of channel to rate")
                current = {**current, **{k: float(v) for k, v in value.items()}}
                setattr(rates, key, current)
            else:
                setattr(rates, key, type(current)(value))
        rates.validate()
        return rates

    def as_dict(self) -> dict:
        return asdict(self)
