"""Pure parts of linking: clusters that keep people's decisions, and ids that last.

``cluster`` joins records over scored pairs (strongest first), after joining what a person decided
is one customer, and never joins two groups a person decided are different customers.
``assign`` maps the new clusters onto existing persons by maximal overlap, so that a person keeps
its id across runs and books; ``moves`` lists what changed person (merges and splits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


class Clusters:
    def __init__(self, n_hint: int = 0):
        self.parent: dict[int, int] = {}
        # component root -> {decision index: sides of that decision present (0, 1)}
        self.tags: dict[int, dict[int, set[int]]] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def tag(self, x: int, decision: int, side: int) -> None:
        self.tags.setdefault(self.find(x), {}).setdefault(decision, set()).add(side)

    def union(self, a: int, b: int, force: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ta, tb = self.tags.get(ra, {}), self.tags.get(rb, {})
        if not force:
            for d, sides in ta.items():
                other = tb.get(d)
                if other and (sides | other) == {0, 1}:
                    return False
        self.parent[ra] = rb
        if ta:
            merged = self.tags.setdefault(rb, {})
            for d, sides in ta.items():
                merged.setdefault(d, set()).update(sides)
            self.tags.pop(ra, None)
        return True


def cluster(
    ids: Iterable[int],
    edges: Iterable[tuple[int, int, float]],
    same: Iterable[tuple[list[int], list[int]]] = (),
    distinct: Iterable[tuple[list[int], list[int]]] = (),
) -> dict[int, int]:
    """record id -> cluster id (the smallest record id of its cluster).

    ``edges``: (a, b, weight) pairs at or above the match threshold; ``same`` / ``distinct``: the
    decisions, as (left ids, right ids) of the records present."""
    c = Clusters()
    for i, (left, right) in enumerate(distinct):
        for x in left:
            c.tag(x, i, 0)
        for x in right:
            c.tag(x, i, 1)
    for left, right in same:
        members = [*left, *right]
        for x in members[1:]:
            c.union(members[0], x, force=True)
    for a, b, _w in sorted(edges, key=lambda e: (-e[2], e[0], e[1])):
        c.union(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for x in ids:
        groups[c.find(x)].append(x)
    out: dict[int, int] = {}
    for members in groups.values():
        head = min(members)
        for x in members:
            out[x] = head
    return out


def assign(clusters: dict[int, int], current: dict[int, int]) -> dict[int, int | None]:
    """cluster id -> existing person number (None: a new person).

    ``current``: record id -> the person number it had (records seen before). Each person goes to
    the cluster holding most of its records (ties: the older person, then the smaller cluster id)
    and each cluster to at most one person."""
    overlap: dict[tuple[int, int], int] = defaultdict(int)
    for rec, head in clusters.items():
        person = current.get(rec)
        if person is not None:
            overlap[(head, person)] += 1
    ranked = sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))
    taken_c: dict[int, int] = {}
    taken_p: set[int] = set()
    for (head, person), _n in ranked:
        if head in taken_c or person in taken_p:
            continue
        taken_c[head] = person
        taken_p.add(person)
    return {head: taken_c.get(head) for head in set(clusters.values())}


def moves(new: dict[int, int], current: dict[int, int]) -> dict[tuple[int, int], list[int]]:
    """(old person, new person) -> records that moved from one to the other."""
    out: dict[tuple[int, int], list[int]] = defaultdict(list)
    for rec, person in new.items():
        old = current.get(rec)
        if old is not None and old != person:
            out[(old, person)].append(rec)
    return dict(out)
