"""Who leaked it: the guilt model of Papadimitriou & Garcia-Molina ("Data Leakage Detection", IEEE
TKDE 23(1), 2011), with the leaker drawing what it leaks from what it holds. Pure functions.

Each possible source *i* holds a set R_i of the insurer's objects (policies a staff member read, a
partner outlet sold, an extraction delivered); the leaked file shows a set S of m objects that custos
recognised. Papadimitriou & Garcia-Molina give

    Pr{G_i | S} = 1 − ∏_{t ∈ S ∩ R_i} (1 − (1 − p) / |V_t|)

(V_t: the sources that hold t; p: the chance the target obtained t some other way). It rewards
holding the leaked objects but not holding little else, so a nightly reporting account that reads
every customer is at least as guilty as the clerk whose 800 reads are the leak. The ranking therefore
asks how well each source's holdings *explain* the leak: if i leaked, each leaked object came from
R_i (chosen among its |R_i| objects) with probability 1 − ε, or from elsewhere (another source,
foreign rows that happen to match, a guess: 1/N of the universe of N objects) with probability ε:

    log L_i = h_i · log((1 − ε)/|R_i| + ε/N) + (m − h_i) · log(ε/N)

where h_i = |S ∩ R_i|. A staff member's prints and exports are also a holding of their own (a
list taken in one go): the better of the two explanations counts. A source that holds everything scores exactly as "nobody in particular"
(1/N an object); one whose small holdings contain the leak scores far above it. The score shown is
the posterior over all sources with equal priors (softmax of log L); P&GM's Pr{G_i | S} is kept in
the evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

EPSILON = 0.05  # share of the leak's recognised objects that come from elsewhere
GUESS_P = 0.2  # P&GM's p: the chance the target obtained an object without a leak


@dataclass
class Suspect:
    kind: str  # staff | partner | extraction
    id: str
    held: int  # |R_i|: objects the source holds
    hits: int  # h_i: leaked objects among them
    evidence: dict = field(default_factory=dict)
    certain: bool = False  # a canary names it
    # a staff member's printed or exported policies: a list taken in one go is a holding of its own
    bulk_held: int = 0
    bulk_hits: int = 0
    explained_by: str = "all"  # "all" its holdings, or "bulk" its prints and exports
    loglik: float = 0.0
    score: float = 0.0
    guilt: float = 0.0


def loglik(hits: int, held: int, m: int, universe: int, eps: float = EPSILON) -> float:
    n = max(universe, held, 1)
    held = max(held, hits, 1)
    inside = math.log((1 - eps) / held + eps / n)
    outside = math.log(eps / n)
    return hits * inside + (m - hits) * outside


def pgm_guilt(holders: list[int], p: float = GUESS_P) -> float:
    """P&GM's Pr{G_i|S} from |V_t| of each leaked object the source holds."""
    log_innocent = 0.0
    for v in holders:
        q = 1 - (1 - p) / max(v, 1)
        if q <= 0:
            return 1.0
        log_innocent += math.log(q)
    return 1 - math.exp(log_innocent)


def rank(suspects: list[Suspect], m: int, universe: int) -> list[Suspect]:
    """Score and order: sources a canary names first (score 1), then by posterior, fewer holdings,
    more hits, kind and id."""
    live = [s for s in suspects if s.hits > 0 or s.certain]
    for s in live:
        s.loglik = loglik(s.hits, s.held, m, universe)
        if s.bulk_held and s.bulk_hits:
            alt = loglik(s.bulk_hits, s.bulk_held, m, universe)
            if alt > s.loglik:
                s.loglik, s.explained_by = alt, "bulk"
    if live:
        top = max(s.loglik for s in live)
        z = sum(math.exp(s.loglik - top) for s in live)
        for s in live:
            s.score = 1.0 if s.certain else math.exp(s.loglik - top) / z
    return sorted(live, key=lambda s: (not s.certain, -s.score, -s.loglik, s.held, -s.hits, s.kind, s.id))
