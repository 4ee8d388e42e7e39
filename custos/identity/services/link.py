"""`custos link`: every party of a load linked into persons whose ids last.

    run = run_link()                     # the latest successful load, DuckDB
    run = run_link(load, user=request.user, progress=cb)
    run = run_link(load, engine="spark", full=True)

The parties are read from the load's encrypted snapshot into DuckDB in memory, a Splink model is
trained on them (unsupervised) and scores the blocked pairs; records are clustered over the pairs
at or above the match threshold, keeping people's decisions (``LinkDecision``); the clusters are
mapped onto the existing persons by maximal overlap (``clusters.assign``), and what moved from one
person to another is recorded as merges and splits with the evidence. Pairs between the review and
the match threshold go to the review queue. The model (``model.json``) and its match-weight chart
(``chart.html``) are saved under ``CUSTOS_HOME/identity/run-<id>/``: no customer value is in them.

**Incremental** (the default once a run has left a trained model and persons): the run's linkage
records and the term frequencies of its model are kept, encrypted like a snapshot, in
``run-<id>/store/`` (one part per run: a later run links the earlier parts and adds its own). A later run compares the new load's parties with them, and only the new and
changed parties are scored — against the stored records (Splink's ``predict_between``, with the
stored term-frequency tables registered) and among themselves (``predict_within``) — by the stored
model. The clusters are updated, not rebuilt: the persons the new pairs touch (and those of changed
parties) are read back, their unchanged records stay together, and the new records join, found new
persons or merge persons exactly as in a full run (recorded as merges and splits with evidence).
``full=True`` (``custos link --full``) retrains and relinks everything.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from custos.book.models import BookLoad
from custos.identity import conf as iconf
from custos.identity.engine.model import ENGINES
from custos.identity.models import LinkDecision, LinkEvent, LinkRun, Person, PersonRecord, ReviewPair
from custos.identity.services import clusters as cl

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


def base_run(engine: str) -> LinkRun | None:
    """The run an incremental run builds on: the latest finished run of this engine, when it left
    its store and persons exist (None: link in full)."""
    run = LinkRun.objects.filter(status=LinkRun.Status.DONE).order_by("-id").first()
    if run is None or run.engine != engine or not run.model or not run.artefacts:
        return None
    if not _store_parts(Path(run.artefacts) / "store"):
        return None
    if not Person.objects.exists():
        return None
    return run


def run_link(
    load=None, engine: str = "duckdb", user=None, progress: Progress | None = None, full: bool = False
) -> LinkRun:
    """Link the parties of ``load``: incrementally against the last run's persons when there is one
    (``base_run``), in full when there is none or ``full``. ``run.settings["mode"]`` says which."""
    if engine not in ENGINES:
        raise LinkError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    load = resolve_load(load)
    params = iconf.params()
    base = None if full else base_run(engine)
    mode = "incremental" if base else "full"
    run = LinkRun.objects.create(
        load=load,
        engine=engine,
        settings={**iconf.conf(), "mode": mode, "base_run": base.pk if base else None},
        created_by=user if getattr(user, "pk", None) else None,
    )
    t0 = time.monotonic()
    try:
        out = artefacts_dir(run)
        out.mkdir(parents=True, exist_ok=True)
        _note(progress, 0.0, f"reading the parties ({mode})")
        if base:
            scored = score_incremental(
                Path(load.snapshot_path),
                Path(base.artefacts) / "store",
                base.model,
                params,
                progress,
                engine=engine,
                store_out=out / "store",
                part=f"{run.pk:08d}",
            )
        else:
            scored = score(
                Path(load.snapshot_path),
                params,
                progress,
                engine=engine,
                store_out=out / "store",
                part=f"{run.pk:08d}",
            )
        _note(progress, 0.8, "assigning persons")
        from custos.identity.engine import chart

        (out / "model.json").write_text(json.dumps(scored["model"], ensure_ascii=False, indent=1))
        (out / "chart.html").write_text(chart.html(scored["model"], f"custos link run #{run.pk}"))
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as c:
                    c.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            if base:
                counts = persist_incremental(run, scored, params)
            else:
                counts = persist(run, scored, params)
            from custos.audit.record import record

            run.status = LinkRun.Status.DONE
            run.model = scored["model"]
            run.artefacts = str(out)
            run.records = scored.get("records", len(scored["keys"]))
            run.pairs_scored = scored["pairs_scored"]
            run.links = len(scored["edges"])
            for k, v in counts.items():
                setattr(run, k, v)
            if base:
                run.settings = {**run.settings, **scored["counts"]}
            run.finished_at = timezone.now()
            run.seconds = round(time.monotonic() - t0, 3)
            run.save()
            record(
                user if getattr(user, "pk", None) else None,
                "identity.linked",
                run,
                None,
                {
                    "mode": mode,
                    **{
                        k: getattr(run, k)
                        for k in ("records", "persons", "persons_created", "merges", "splits")
                    },
                },
            )
        _prune_stores(run)
        _note(progress, 1.0, "done")
        return run
    except Exception as exc:
        LinkRun.objects.filter(pk=run.pk).update(
            status=LinkRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            seconds=time.monotonic() - t0,
        )
        shutil.rmtree(artefacts_dir(run) / "store", ignore_errors=True)
        if isinstance(exc, LinkError):
            raise
        raise LinkError(f"link run #{run.pk} failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc


def _prune_stores(run: LinkRun) -> None:
    """Only the latest run's store is needed (its parts are hard links of the earlier ones)."""
    for old in (
        LinkRun.objects.filter(id__lt=run.pk).exclude(artefacts="").values_list("artefacts", flat=True)
    ):
        shutil.rmtree(Path(old) / "store", ignore_errors=True)


# An incremental run adds its new and changed records as one more part of the store; past this many
# parts the store is written whole again (one part).
MAX_PARTS = 8


def _store_parts(store: Path) -> list[Path]:
    return sorted(Path(store).glob("records-*.parquet"))


def _write_store(con, out: Path, records: str, tf: dict, part: str, base: Path | None = None) -> None:
    """The linkage records and the model's term-frequency tables, as encrypted Parquet in ``out``.
    With ``base`` (an incremental run): the base store's parts are linked into ``out`` and
    ``records`` (the new and changed records) is written as one more part; ``records`` must then
    hold the whole store when ``_can_extend(base)`` is false."""
    from custos.crypto import snapshot as esnap
    from custos.identity.engine.features import RECORD_COLUMNS

    if not esnap.load_full_crypto(con):
        raise LinkError("duckdb-ext-httpfs is not installed: the linkage store cannot be encrypted")
    if base is not None:
        out.mkdir(parents=True, exist_ok=True)
        for f in [base / esnap.MARKER, *_store_parts(base), *base.glob("tf_*.parquet")]:
            try:
                os.link(f, out / f.name)
            except OSError:
                shutil.copy2(f, out / f.name)
        key = esnap.add_key(con, out)
    else:
        key = esnap.begin(out, con)
        for col, table in tf.items():
            esnap.write_arrow(con, key, table, out / f"tf_{col}.parquet")
    con.execute(
        f"COPY (SELECT {', '.join(RECORD_COLUMNS)} FROM {records} ORDER BY unique_id) "
        f"TO '{out / f'records-{part}.parquet'}' {esnap.copy_options(key)}"
    )


def _can_extend(store: Path) -> bool:
    from custos.crypto import snapshot as esnap
    from custos.crypto.fields import keys

    return len(_store_parts(store)) < MAX_PARTS and esnap.key_id(store) == keys().current_id


def _read_store(con, store: Path, table: str) -> None:
    """The temp table ``table``: the stored records, a record's latest part winning."""
    from custos.crypto import snapshot as esnap

    parts = _store_parts(store)
    if len(parts) == 1:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {esnap.source(con, store, parts[0].stem)}")
        return
    key = esnap.add_key(con, store)
    files = ", ".join(f"'{p}'" for p in parts)
    con.execute(
        f"CREATE TEMP TABLE {table} AS SELECT * EXCLUDE (filename) FROM read_parquet([{files}], filename = true, "
        f"encryption_config = {{footer_key: '{key}'}}) "
        "QUALIFY row_number() OVER (PARTITION BY unique_id ORDER BY filename DESC) = 1"
    )


def _read_tf(con, store: Path) -> dict:
    from custos.crypto import snapshot as esnap
    from custos.identity.engine.model import TF_COLUMNS

    return {
        c: con.execute(f"SELECT * FROM {esnap.source(con, store, f'tf_{c}')}").fetch_arrow_table()
        for c in TF_COLUMNS
        if (store / f"tf_{c}.parquet").exists()
    }


def score(
    snapshot_dir: Path,
    params,
    progress: Progress | None = None,
    engine: str = "duckdb",
    store_out: Path | None = None,
    part: str = "0",
) -> dict:
    """Train and predict: {keys, edges, review, neighbours, model, pairs_scored}. The features are
    built in DuckDB in memory; Splink runs on ``engine``. ``store_out``: keep the records and the
    term frequencies there for later incremental runs."""
    from custos.crypto.snapshot import offline_connect
    from custos.identity.engine import features, model

    con = offline_connect()
    try:
        features.load_parties(con, snapshot_dir, linking=True)
        features.build_records(con)
        keys = {
            uid: (p, r, int(s))
            for uid, p, r, s in con.execute("SELECT unique_id, policy_no, role, seq FROM records").fetchall()
        }
        _note(progress, 0.2, "training the model")
        api = model.db_api(engine, con)
        linker = model.train(model.register(api, con, "records"), params, model.dialect(api))
        _note(progress, 0.6, "scoring pairs")
        pairs = model.predict(linker, params)
        trained = model.model_json(linker)
        if store_out is not None:
            _note(progress, 0.7, "writing the store")
            _write_store(con, store_out, "records", model.tf_tables(linker), part)
    finally:
        con.close()
    return {**_read_pairs(pairs, trained, params), "keys": keys, "model": trained}


def score_incremental(
    snapshot_dir: Path,
    store: Path,
    trained: dict,
    params,
    progress: Progress | None = None,
    engine: str = "duckdb",
    store_out: Path | None = None,
    part: str = "0",
) -> dict:
    """Score only the parties new or changed since the stored records, with the stored model:
    {keys (the fresh records and the stored ones they pair with), fresh, changed, counts, records,
    edges, review, neighbours, model, pairs_scored}."""
    from custos.crypto.snapshot import offline_connect
    from custos.identity.engine import features, model

    con = offline_connect()
    try:
        total = features.load_parties(con, snapshot_dir, linking=True)
        _note(progress, 0.1, "comparing with the stored records")
        _read_store(con, store, "existing")
        counts = features.diff(con, "existing", "parties_src", "fresh0")
        features.enrich(con, "fresh0", "fresh")
        changed = {r[0] for r in con.execute("SELECT unique_id FROM fresh0 WHERE changed").fetchall()}
        con.execute("DELETE FROM existing WHERE unique_id IN (SELECT unique_id FROM fresh0 WHERE changed)")
        tf = _read_tf(con, store)
        fresh = {
            uid: (p, r, int(s))
            for uid, p, r, s in con.execute("SELECT unique_id, policy_no, role, seq FROM fresh").fetchall()
        }
        _note(progress, 0.3, f"scoring {len(fresh)} new or changed parties")
        if fresh:
            api = model.db_api(engine, con)
            pairs = model.predict_incremental(
                api,
                model.register(api, con, "existing"),
                model.register(api, con, "fresh"),
                trained,
                tf,
                params,
            )
        else:
            pairs = None
        hit = set()
        if pairs is not None and pairs.num_rows:
            for col in ("unique_id_l", "unique_id_r"):
                hit.update(pairs.column(col).to_pylist())
        hit -= set(fresh)
        keys = dict(fresh)
        if hit:
            import pyarrow as pa

            con.register("hit_ids", pa.table({"unique_id": pa.array(sorted(hit), pa.int64())}))
            for uid, p, r, s in con.execute(
                "SELECT unique_id, policy_no, role, seq FROM existing JOIN hit_ids USING (unique_id)"
            ).fetchall():
                keys[uid] = (p, r, int(s))
            con.unregister("hit_ids")
        if store_out is not None:
            _note(progress, 0.7, "writing the store")
            if _can_extend(store):
                _write_store(con, store_out, "fresh", tf, part, base=store)
            else:
                cols = ", ".join(features.RECORD_COLUMNS)
                con.execute(
                    f"CREATE TEMP TABLE whole AS SELECT {cols} FROM existing UNION ALL SELECT {cols} FROM fresh"
                )
                _write_store(con, store_out, "whole", tf, part)
    finally:
        con.close()
    if pairs is None:
        read = {"edges": [], "review": [], "neighbours": {}, "pairs_scored": 0}
    else:
        read = _read_pairs(pairs, trained, params)
    return {
        **read,
        "keys": keys,
        "fresh": set(fresh),
        "changed": changed,
        "counts": counts,
        "records": total,
        "model": trained,
    }


def _read_pairs(pairs, trained: dict, params) -> dict:
    labels = {}  # comparison -> {gamma: label}; Splink numbers the non-null levels n-1 … 0
    for c in trained["comparisons"]:
        levels = [lvl for lvl in c["comparison_levels"] if not lvl.get("is_null_level")]
        labels[c["output_column_name"]] = {
            len(levels) - 1 - i: lvl.get("label_for_charts", "") for i, lvl in enumerate(levels)
        }
    d = pairs.to_pydict()
    gammas = [c for c in d if c.startswith("gamma_")]
    edges, review = [], []
    neighbours: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for i in range(pairs.num_rows):
        a, b = d["unique_id_l"][i], d["unique_id_r"][i]
        w, p = float(d["match_weight"][i]), float(d["match_probability"][i])
        if p >= params.match_probability:
            edges.append((a, b, w))
        else:
            levels = {g[6:]: _label(labels.get(g[6:], {}), d[g][i]) for g in gammas}
            review.append((a, b, w, p, levels))
        neighbours[a].append((b, w, p))
        neighbours[b].append((a, w, p))
    return {"edges": edges, "review": review, "neighbours": neighbours, "pairs_scored": pairs.num_rows}


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
    return _apply(run, keys, clusters, existing, scored)


CHUNK = 5000


def _records_by_key(keys) -> dict[Key, tuple[int, int]]:
    """key -> (PersonRecord id, person number) of the given keys that have a person."""
    wanted = set(keys)
    out = {}
    policies = sorted({k[0] for k in wanted})
    for i in range(0, len(policies), CHUNK):
        for rec_id, p, r, s, num in PersonRecord.objects.filter(
            policy_no__in=policies[i : i + CHUNK]
        ).values_list("id", "policy_no", "role", "seq", "person__number"):
            if (p, r, s) in wanted:
                out[(p, r, s)] = (rec_id, num)
    return out


def _records_of_persons(numbers) -> dict[Key, tuple[int, int]]:
    out = {}
    numbers = sorted(numbers)
    for i in range(0, len(numbers), CHUNK):
        for rec_id, p, r, s, num in PersonRecord.objects.filter(
            person__number__in=numbers[i : i + CHUNK]
        ).values_list("id", "policy_no", "role", "seq", "person__number"):
            out[(p, r, s)] = (rec_id, num)
    return out


def persist_incremental(run: LinkRun, scored: dict, params) -> dict:
    """Update the clusters with the fresh records of an incremental run: the persons they pair with
    (and those of changed records) are read back; each keeps its unchanged records together; the
    fresh records join by their links (strongest first, people's decisions kept). Inside a
    transaction."""
    keys: dict[int, Key] = dict(scored["keys"])
    changed = scored["changed"]
    known = _records_by_key(keys.values())
    touched = {known[k][1] for uid, k in keys.items() if k in known}
    existing = {**_records_of_persons(touched), **known}
    by_key = {k: uid for uid, k in keys.items()}
    local = -1
    for k in existing:  # unchanged records of the touched persons that no new pair names
        if k not in by_key:
            by_key[k] = local
            keys[local] = k
            local -= 1
    same, distinct = _decisions(by_key)
    members: dict[int, list[int]] = defaultdict(list)
    for k, (_rec, num) in existing.items():
        uid = by_key[k]
        if uid not in changed:
            members[num].append(uid)
    keep = [([m[0]], m[1:]) for m in members.values() if len(m) > 1]
    clusters = cl.cluster(keys, scored["edges"], [*keep, *same], distinct)
    stale = [keys[u] for u in changed]
    counts = _apply(run, keys, clusters, existing, scored, stale=stale)
    counts["persons"] = PersonRecord.objects.values("person_id").distinct().count()
    return counts


def _apply(run, keys, clusters, existing, scored, stale=None) -> dict:
    """Map ``clusters`` (record id -> cluster) onto persons and write what changed: new persons,
    records created or moved, merges and splits with their evidence, the review queue. ``existing``:
    key -> (PersonRecord id, person number) of the records that have a person; ``stale``: keys whose
    open review pairs are outdated (None: all open pairs, a full run)."""
    current = {uid: existing[k][1] for uid, k in keys.items() if k in existing}
    mapping = cl.assign(clusters, current)

    # new persons, numbered after the highest ever given
    top = Person.objects.aggregate(n=Max("number"))["n"] or 0
    fresh_heads = sorted(h for h, num in mapping.items() if num is None)
    _bulk_insert(
        Person,
        ("number", "status", "created_run_id", "updated_run_id"),
        ((top + i + 1, Person.Status.ACTIVE.value, run.pk, run.pk) for i in range(len(fresh_heads))),
    )
    for i, head in enumerate(fresh_heads):
        mapping[head] = top + i + 1
    new_person = {uid: mapping[clusters[uid]] for uid in keys}
    ids = _person_ids({*new_person.values(), *current.values()}, everyone=stale is None)

    # records: create the new ones, move the changed ones
    to_create, to_move = [], defaultdict(list)
    for uid, key in keys.items():
        num = new_person[uid]
        if key not in existing:
            to_create.append((key[0], key[1], key[2], ids[num], run.pk))
        elif existing[key][1] != num:
            to_move[num].append(existing[key][0])
    _bulk_insert(PersonRecord, ("policy_no", "role", "seq", "person_id", "run_id"), to_create)
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
    if stale is None:
        ReviewPair.objects.filter(status=ReviewPair.Status.OPEN).update(status=ReviewPair.Status.STALE)
        seen = set()
    else:
        seen = _stale_pairs(stale, {keys[u] for a, b, *_r in scored["review"] for u in (a, b)})
    queue = []
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


def _bulk_insert(model, columns: tuple[str, ...], rows) -> None:
    """Insert rows by the database's fast path: COPY on PostgreSQL, executemany on SQLite (the ORM's
    bulk_create took most of a 1 M-party run)."""
    connection.ensure_connection()
    raw = connection.connection
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    if connection.vendor == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        return
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
    cur = raw.cursor()
    try:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == 50000:
                cur.executemany(sql, batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)
    finally:
        cur.close()


def _person_ids(numbers, everyone: bool) -> dict[int, int]:
    """person number -> Person id. ``everyone``: read all persons in chunks (a full run; a filter on
    hundreds of thousands of numbers would pass SQLite's limit on query parameters)."""
    if everyone:
        return dict(Person.objects.values_list("number", "id").iterator(chunk_size=20000))
    numbers = sorted(numbers)
    out = {}
    for i in range(0, len(numbers), CHUNK):
        out.update(Person.objects.filter(number__in=numbers[i : i + CHUNK]).values_list("number", "id"))
    return out


def _stale_pairs(stale: list[Key], named: set[Key]) -> set[tuple[Key, Key]]:
    """Mark the open review pairs of the ``stale`` keys stale; return the open pairs among the
    ``named`` keys that remain (not to be queued twice)."""
    stale_set, remain = set(stale), set()
    look = stale_set | named
    policies = sorted({k[0] for k in look})
    for i in range(0, len(policies), CHUNK):
        part = policies[i : i + CHUNK]
        q = ReviewPair.objects.filter(status=ReviewPair.Status.OPEN).filter(
            models.Q(l_policy_no__in=part) | models.Q(r_policy_no__in=part)
        )
        for pair in q.only("id", "l_policy_no", "l_role", "l_seq", "r_policy_no", "r_role", "r_seq"):
            if pair.left in stale_set or pair.right in stale_set:
                ReviewPair.objects.filter(pk=pair.pk).update(status=ReviewPair.Status.STALE)
            else:
                remain.add((pair.left, pair.right))
    return remain


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
