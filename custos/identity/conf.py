"""Identity settings: `settings.CUSTOS_IDENTITY` (a dict) over these defaults."""

from django.conf import settings

DEFAULTS = {
    # pairs at or above this match probability are one person (connected components)
    "match_probability": 0.99,
    # pairs from this probability up to the match threshold go to the clerical review queue
    "review_probability": 0.5,
    # random pairs sampled to estimate u, and the seed that makes the model reproducible
    "u_max_pairs": 1_000_000,
    "seed": 20261207,
    # the share of true pairs the deterministic rules (same ID and name, same mobile and name) find:
    # sets the prior probability that two records match
    "prior_recall": 0.7,
    # XC02: fields whose value a person's other records may fill
    "fill_fields": [
        "gender",
        "birth_date",
        "id_no",
        "mobile",
        "phone",
        "address",
        "postcode",
        "email",
        "occupation_code",
        "nationality",
    ],
}


def conf() -> dict:
    return {**DEFAULTS, **getattr(settings, "CUSTOS_IDENTITY", {})}


def params():
    from custos.identity.engine.model import Params

    c = conf()
    return Params(
        match_probability=float(c["match_probability"]),
        review_probability=float(c["review_probability"]),
        u_max_pairs=float(c["u_max_pairs"]),
        seed=int(c["seed"]),
        prior_recall=float(c["prior_recall"]),
    )
