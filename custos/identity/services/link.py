"""`custos link`: every party of a load linked into persons whose ids last.

    run = run_link()                     # the latest successful load, DuckDB
    run = run_link(load, user=request.user, progress=cb)

The parties are read from the load's encrypted snapshot into DuckDB in memory, a Splink model is
trained on them (unsupervised) and scores the blocked pairs; records are clustered over the pairs
at or above the match threshold, keeping people's decisions (``LinkDecision``); the clusters are
mapped onto the existing persons by maximal overlap (``clusters.assign``), and what moved from one
person to another is recorded as merges and splits with the evidence. Pairs between the review and
the match threshold go to the review queue. The model (``model.json``) and its match-weight chart
(``chart.html``) are saved under ``CUSTOS_HOME/identity/run-<id>/``: no customer value is in them.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from custos.book.models import BookLoad
from custos.identity import conf as iconf
from custos.identity.models import LinkDecision, LinkEvent, LinkRun, Person, PersonRecord, ReviewPair
from custos.identity.services import clusters as cl

ENGINES = ("duckdb",)
Progress = Callable[[float, str], None]
_LOCK_KEY = 0x6964656E74  # "ident": one link run writes persons at a time (PostgreSQL)
EVIDENCE_PAIRS = 5

Key = tuple[str, str, int]


class LinkError(Exception):
    """A link run cannot start or failed; str() is a one-line reason."""


def _note(progress: Progress | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def resolve_load(load=None) -> BookLoad:
    if load is None:
        found = (
            BookLoad.objects.filter(status=BookLoad.Status.DONE)
            .exclude(snapshot_path="")
            .order_by("-id")
            .first()
        )
        if found is None:
            raise LinkError("no book has been loaded yet: run `custos load PATH` first")
        return found
    if not isinstance(load, BookLoad):
        found = BookLoad.objects.filter(pk=load).first()
        if found is None:
            raise LinkError(f"load #{load} does not exist")
        load = found
    if load.status != BookLoad.Status.DONE:
        raise LinkError(f"load #{load.pk} is {load.status}, not done")
    if not load.snapshot_path or not Path(load.snapshot_path).exists():
        raise LinkError(f"load #{load.pk} has no snapshot at {load.snapshot_path or '(none)'}")
    return load


def artefacts_dir(run: LinkRun) -> Path:
    from custos.paths import home

    return Path(home()) / "identity" / f"run-{run.pk}"


def run_link(load=None, engine: str = "duckdb", user=None, progress: Progress | None = None) -> LinkRun:
    if engine not in ENGINES:
        raise LinkError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    load = resolve_load(load)
    params = iconf.params()
    run = LinkRun.objects.create(
        load=load,
        engine=engine,
        settings=iconf.conf(),
        created_by=user if getattr(user, "pk", None) else None,
    )
    t0 = time.monotonic()
    try:
        _note(progress, 0.0, "reading the parties")
        scored = score(Path(load.snapshot_path), params, progress)
        _note(progress, 0.8, "assigning persons")
        out = artefacts_dir(run)
        out.mkdir(parents=True, exist_ok=True)
        from custos.identity.engine import chart

        (out / "model.json").write_text(json.dumps(scored["model"], ensure_ascii=False, indent=1))
        (out / "chart.html").write_text(chart.html(scored["model"], f"custos link run #{run.pk}"))
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as c:
                    c.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            counts = persist(run, scored, params)
            from custos.audit.record import record

            run.status = LinkRun.Status.DONE
            run.model = scored["model"]
            run.artefacts = str(out)
            run.records = len(scored["keys"])
            run.pairs_scored = scored["pairs_scored"]
            run.links = len(scored["edges"])
            for k, v in counts.items():
                setattr(run, k, v)
            run.finished_at = timezone.now()
            run.seconds = round(time.monotonic() - t0, 3)
            run.save()
            record(
                user if getattr(user, "pk", None) else None,
                "identity.linked",
                run,
                None,
                {k: getattr(run, k) for k in ("records", "persons", "persons_created", "merges", "splits")},
            )
        _note(progress, 1.0, "done")
        return run
    except Exception as exc:
        LinkRun.objects.filter(pk=run.pk).update(
            status=LinkRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            seconds=time.monotonic() - t0,
        )
        if isinstance(exc, LinkError):
            raise
        raise LinkError(f"link run #{run.pk} failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc


def score(snapshot_dir: Path, params, progress: Progress | None = None) -> dict:
    """Train and predict on DuckDB in memory: {keys, edges, review, evidence, model, pairs_scored}."""
    from custos.crypto.snapshot import offline_connect
    from custos.identity.engine import features, model

    con = offline_connect()
    try:
        features.load_parties(con, snapshot_dir)
        features.build_records(con)
        keys = {
            uid: (p, r, int(s))
            for uid, p, r, s in con.execute("SELECT unique_id, policy_no, role, seq FROM records").fetchall()
        }
        _note(progress, 0.2, "training the model")
        linker = model.train(con, params)
        _note(progress, 0.6, "scoring pairs")
        pairs = model.predict(linker, params)
        trained = model.model_json(linker)
    finally:
        con.close()
    labels = {}  # comparison -> {gamma: label}; Splink numbers the non-null levels n-1 … 0
    for c in trained["comparisons"]:
        levels = [lvl for lvl in c["comparison_levels"] if not lvl.get("is_null_level")]
        labels[c["output_column_name"]] = {
            len(levels) - 1 - i: lvl.get("label_for_charts", "") for i, lvl in enumerate(levels)
        }
    d = pairs.to_pydict()
    gammas = [c for c in d if c.startswith("gamma_")]
    edges, review = [], []
    for i in range(pairs.num_rows):
        a, b = d["unique_id_l"][i], d["unique_id_r"][i]
        w, p = float(d["match_weight"][i]), float(d["match_probability"][i])
        if p >= params.match_probability:
            edges.append((a, b, w))
        else:
            levels = {g[6:]: _label(labels.get(g[6:], {}), d[g][i]) for g in gammas}
            review.append((a, b, w, p, levels))
    neighbours: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for i in range(pairs.num_rows):
        a, b = d["unique_id_l"][i], d["unique_id_r"][i]
        w, p = float(d["match_weight"][i]), float(d["match_probability"][i])
        neighbours[a].append((b, w, p))
        neighbours[b].append((a, w, p))
    return {
        "keys": keys,
        "edges": edges,
        "review": review,
        "neighbours": neighbours,
        "model": trained,
        "pairs_scored": pairs.num_rows,
    }


def _label(levels: dict, gamma) -> str:
    if gamma is None:
        return ""
    if gamma == -1:
        return "null"
    return levels.get(gamma, str(gamma))


def _decisions(by_key: dict[Key, int]):
    same, distinct = [], []
    for dec in LinkDecision.objects.filter(active=True).order_by("id"):
        left = [by_key[tuple(k)] for k in dec.left if tuple(k) in by_key]
        right = [by_key[tuple(k)] for k in dec.right if tuple(k) in by_key]
        if not left or not right:
            continue
        (same if dec.kind == LinkDecision.Kind.SAME else distinct).append((left, right))
    return same, distinct


def persist(run: LinkRun, scored: dict, params) -> dict:
    """Clusters onto persons, in the database; returns the run's counts. Inside a transaction."""
    keys: dict[int, Key] = scored["keys"]
    by_key = {k: uid for uid, k in keys.items()}
    same, distinct = _decisions(by_key)
    clusters = cl.cluster(keys, scored["edges"], same, distinct)

    existing = {}  # key -> (PersonRecord id, person number)
    for rec_id, p, r, s, num in PersonRecord.objects.values_list(
        "id", "policy_no", "role", "seq", "person__number"
    ).iterator(chunk_size=10000):
        existing[(p, r, s)] = (rec_id, num)
    current = {uid: existing[k][1] for uid, k in keys.items() if k in existing}
    mapping = cl.assign(clusters, current)

    # new persons, numbered after the highest ever given
    top = Person.objects.aggregate(n=Max("number"))["n"] or 0
    fresh_heads = sorted(h for h, num in mapping.items() if num is None)
    Person.objects.bulk_create(
        [Person(number=top + i + 1, created_run=run, updated_run=run) for i in range(len(fresh_heads))],
        batch_size=5000,
    )
    for i, head in enumerate(fresh_heads):
        mapping[head] = top + i + 1
    new_person = {uid: mapping[clusters[uid]] for uid in keys}
    # all persons, read in chunks: a filter on hundreds of thousands of numbers would pass
    # SQLite's limit on query parameters
    ids = dict(Person.objects.values_list("number", "id").iterator(chunk_size=20000))

    # records: create the new ones, move the changed ones
    to_create, to_move = [], defaultdict(list)
    for uid, key in keys.items():
        num = new_person[uid]
        if key not in existing:
            to_create.append(
                PersonRecord(policy_no=key[0], role=key[1], seq=key[2], person_id=ids[num], run=run)
            )
        elif existing[key][1] != num:
            to_move[num].append(existing[key][0])
    PersonRecord.objects.bulk_create(to_create, batch_size=5000)
    for num, rec_ids in to_move.items():
        for i in range(0, len(rec_ids), 5000):
            PersonRecord.objects.filter(id__in=rec_ids[i : i + 5000]).update(person_id=ids[num], run=run)

    # merges and splits, with the evidence
    fresh = set(mapping[h] for h in fresh_heads)
    merges = splits = 0
    moved = cl.moves(new_person, current)
    members: dict[int, list[int]] = defaultdict(list)
    for uid, num in new_person.items():
        members[num].append(uid)
    before: dict[int, list[int]] = defaultdict(list)
    for uid, num in current.items():
        before[num].append(uid)
    events = []
    for (old, new), recs in sorted(moved.items()):
        kind = LinkEvent.Kind.SPLIT if new in fresh else LinkEvent.Kind.MERGE
        if kind == LinkEvent.Kind.SPLIT:
            splits += 1
            other = [u for u in before[old] if new_person[u] == old]  # what stayed behind
        else:
            merges += 1
            other = [u for u in members[new] if u not in set(recs)]  # what it joined
        events.append(
            LinkEvent(
                run=run,
                kind=kind,
                from_person_id=ids[old],
                to_person_id=ids[new],
                records=[list(keys[u]) for u in sorted(recs)],
                evidence=_evidence(scored["neighbours"], keys, recs, other),
            )
        )
    LinkEvent.objects.bulk_create(events, batch_size=1000)

    # persons left without any record were merged into where most of them went
    emptied = set(current.values()) - set(new_person.values())
    for old in emptied:
        if PersonRecord.objects.filter(person_id=ids[old]).exists():
            continue  # it keeps records of parties outside this load
        dest = max(
            ((new, len(recs)) for (o, new), recs in moved.items() if o == old), key=lambda t: (t[1], -t[0])
        )[0]
        Person.objects.filter(id=ids[old]).update(
            status=Person.Status.MERGED, merged_into_id=ids[dest], updated_run=run
        )
    touched = {n for (_o, n) in moved} | {o for (o, _n) in moved}
    kept = sorted(ids[n] for n in touched - emptied)
    for i in range(0, len(kept), 5000):
        Person.objects.filter(id__in=kept[i : i + 5000]).update(updated_run=run, status=Person.Status.ACTIVE)

    # the review queue: pairs between the thresholds that ended in different persons
    ReviewPair.objects.filter(status=ReviewPair.Status.OPEN).update(status=ReviewPair.Status.STALE)
    queue = []
    seen = set()
    for a, b, w, p, levels in scored["review"]:
        if new_person[a] == new_person[b]:
            continue
        ka, kb = sorted((keys[a], keys[b]))
        if (ka, kb) in seen:
            continue
        seen.add((ka, kb))
        queue.append(
            ReviewPair(
                run=run,
                l_policy_no=ka[0],
                l_role=ka[1],
                l_seq=ka[2],
                r_policy_no=kb[0],
                r_role=kb[1],
                r_seq=kb[2],
                match_weight=w,
                match_probability=p,
                levels=levels,
            )
        )
    ReviewPair.objects.bulk_create(queue, batch_size=5000)
    return {
        "persons": len(set(new_person.values())),
        "persons_created": len(fresh_heads),
        "merges": merges,
        "splits": splits,
        "review_pairs": len(queue),
    }


def _evidence(neighbours, keys, recs, other) -> dict:
    others = set(other)
    pairs = []
    for u in recs:
        for v, w, p in neighbours.get(u, ()):
            if v in others:
                pairs.append((w, p, u, v))
    pairs.sort(key=lambda t: (-t[0], t[2], t[3]))
    return {
        "max_weight": round(pairs[0][0], 3) if pairs else None,
        "pairs": [
            {"l": list(keys[u]), "r": list(keys[v]), "weight": round(w, 3), "probability": round(p, 6)}
            for w, p, u, v in pairs[:EVIDENCE_PAIRS]
        ],
    }
