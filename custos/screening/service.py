"""Screen one application or change: validate, look up its context, evaluate the catalogue, decide,
record. The service behind POST /api/v1/screen and `custos screen FILE`.

    result = screen(client, body_dict)        # -> Result (status, answer dict)

One evaluator per process (custos.screening.evaluator); the answer carries, per finding, the check
code, role, seq, field, severity, the zh/en explanation and the value custos proposes (if any), never
the values sent nor anything of the book.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from custos.crypto.fields import keys as crypto_keys
from custos.domain import codes as codelists
from custos.domain.bookformat import TABLES
from custos.screening import context, gates
from custos.screening.models import Client, RateWindow, Screening

MAX_PARTIES = 50
SCREENING_TABLE = Screening._meta.db_table
RESPONSE_AD = f"{SCREENING_TABLE}.response"  # the associated data EncryptedTextField uses
FINDINGS_AD = f"{SCREENING_TABLE}.findings"
_local = threading.local()  # one evaluator per thread (its SQLite connection is not shared)


def evaluator():
    """The thread's evaluator and indexer (built on first use: ~0.5 s)."""
    _state = getattr(_local, "state", None)
    if _state is None:
        from custos.checks.catalogue import BY_CODE
        from custos.checks.services import default_settings
        from custos.screening.evaluator import Evaluator

        ev = Evaluator(default_settings())
        _state = _local.state = {
            "ev": ev,
            "min_applicants": min(ev.settings.param(c, "min_applicants") for c in ("PH06", "AD05", "EM02")),
            "fingerprint": ev.settings.fingerprint(),
            "checks": {**BY_CODE, **gates.GATES},
        }
    keys = crypto_keys()
    if _state.get("keys") is not keys:  # a new keyring (rotation, another CUSTOS_HOME): new indexer
        _state["keys"] = keys
        _state["ix"] = context.Indexer()
    return _state


# --- input -----------------------------------------------------------------------------------------


class Invalid(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} field error(s)")
        self.errors = errors


_POLICY_COLS = {c.name: c for c in TABLES["policies"].columns}
_PARTY_COLS = {c.name: c for c in TABLES["parties"].columns}
_CHANGE_COLS = {c.name: c for c in TABLES["changes"].columns}


def _date(v) -> dt.date:
    s = str(v).strip()
    if s in ("长期", "永久", "long-term"):
        return dt.date(9999, 12, 31)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date (YYYY-MM-DD)")


def _convert(col, value, where: str, errors: list) -> object:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if col.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors.append({"field": where, "message": "must be an integer"})
            return None
        try:
            return int(value)
        except ValueError:
            errors.append({"field": where, "message": "must be an integer"})
            return None
    if col.type == "decimal":
        try:
            return float(value)
        except (TypeError, ValueError):
            errors.append({"field": where, "message": "must be a number"})
            return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.append({"field": where, "message": "must be a string"})
        return None
    text = str(value)
    if len(text) > 500:
        errors.append({"field": where, "message": "longer than 500 characters"})
        return None
    if col.type == "date":
        try:
            return _date(text)
        except ValueError as exc:
            errors.append({"field": where, "message": str(exc)})
            return None
    if col.type == "timestamp":
        try:
            return dt.datetime.fromisoformat(text.strip())
        except ValueError:
            errors.append({"field": where, "message": "not a timestamp (ISO 8601)"})
            return None
    if col.codes:
        # code lists: English code or Chinese label in, code out; unknown values are kept (the checks
        # judge them, as in the batch engine)
        return codelists.LOOKUPS[col.codes].get(text.strip(), text.strip())
    return text


def _row(obj, cols: dict, where: str, errors: list) -> dict:
    if not isinstance(obj, dict):
        errors.append({"field": where, "message": "must be an object"})
        return {}
    out = {}
    for k, v in obj.items():
        if k not in cols:
            errors.append({"field": f"{where}.{k}", "message": "unknown field (see the book format)"})
            continue
        out[k] = _convert(cols[k], v, f"{where}.{k}", errors)
    return out


def parse(doc) -> tuple[str, dict[str, list[dict]]]:
    """The request document -> (application_id, book-format rows per table). Raises Invalid listing
    every field error."""
    errors: list[dict] = []
    if not isinstance(doc, dict):
        raise Invalid([{"field": "", "message": "the body must be a JSON object"}])
    for k in doc:
        if k not in ("application_id", "policy", "parties", "changes"):
            errors.append({"field": k, "message": "unknown field (application_id, policy, parties, changes)"})
    app_id = doc.get("application_id")
    if not isinstance(app_id, str) or not app_id.strip() or len(app_id) > 100:
        errors.append({"field": "application_id", "message": "required: a string of 1 to 100 characters"})
    policy = _row(doc.get("policy"), _POLICY_COLS, "policy", errors) if "policy" in doc else {}
    if "policy" not in doc:
        errors.append({"field": "policy", "message": "required"})
    for req in ("policy_no", "channel", "branch_code"):
        if "policy" in doc and isinstance(doc.get("policy"), dict) and not policy.get(req):
            errors.append({"field": f"policy.{req}", "message": "required"})
    if policy.get("channel") and policy["channel"] not in codelists.CHANNEL:
        errors.append({"field": "policy.channel", "message": f"unknown channel {policy['channel']!r}"})
    policy_no = policy.get("policy_no")
    raw_parties = doc.get("parties")
    parties = []
    if not isinstance(raw_parties, list) or not raw_parties:
        errors.append({"field": "parties", "message": "required: a list of 1 or more parties"})
    elif len(raw_parties) > MAX_PARTIES:
        errors.append({"field": "parties", "message": f"at most {MAX_PARTIES} parties"})
    else:
        seen = set()
        for i, p in enumerate(raw_parties):
            where = f"parties[{i}]"
            row = _row(p, _PARTY_COLS, where, errors)
            if not isinstance(p, dict):
                continue
            if row.get("role") not in codelists.ROLE:
                errors.append(
                    {"field": f"{where}.role", "message": "required: applicant, insured or beneficiary"}
                )
            if row.get("seq") is None:
                errors.append({"field": f"{where}.seq", "message": "required: an integer"})
            elif row["seq"] < 1:
                errors.append({"field": f"{where}.seq", "message": "must be 1 or more"})
            if row.get("policy_no") not in (None, policy_no):
                errors.append({"field": f"{where}.policy_no", "message": "differs from policy.policy_no"})
            key = (row.get("role"), row.get("seq"))
            if key in seen:
                errors.append({"field": where, "message": f"duplicate party {key[0]} {key[1]}"})
            seen.add(key)
            row["policy_no"] = policy_no
            parties.append(row)
    changes = []
    raw_changes = doc.get("changes", [])
    if not isinstance(raw_changes, list) or len(raw_changes) > 200:
        errors.append({"field": "changes", "message": "a list of at most 200 changes"})
    else:
        for i, c in enumerate(raw_changes):
            row = _row(c, _CHANGE_COLS, f"changes[{i}]", errors)
            row["policy_no"] = policy_no
            changes.append(row)
    if errors:
        raise Invalid(errors)
    return app_id.strip(), {"policies": [policy], "parties": parties, "changes": changes}


# --- callers ---------------------------------------------------------------------------------------

_CLIENTS: dict[str, tuple[float, Client | None]] = {}
CLIENT_CACHE_SECONDS = 10.0


def authenticate(secret: str) -> Client | None:
    """The active client of a key (cached per process for 10 s)."""
    digest = Client.hash(secret)
    hit = _CLIENTS.get(digest)
    now = time.monotonic()
    if hit and hit[0] > now:
        return hit[1]
    client = Client.objects.filter(digest=digest, active=True).first()
    _CLIENTS[digest] = (now + CLIENT_CACHE_SECONDS, client)
    return client


_OUT_OF_SCOPE = {
    "partner_code": "this key may only screen applications of its own outlets (policy.partner_code)",
    "channel": "this key may not screen applications of this channel",
    "branch_code": "this key may not screen applications of this branch",
}
HELD_ELSEWHERE = (
    "policy.policy_no is a policy custos holds outside this key's scope: it cannot be screened or "
    "replaced under this key"
)


def out_of_scope(client: Client, policy: dict) -> str | None:
    """Why the client may not screen this application, or None."""
    refused = context.Scope.of(client).refuses(policy)
    return _OUT_OF_SCOPE[refused] if refused else None


_RATE: dict[
    str, list
] = {}  # client key digest -> [minute, requests not yet counted in the database, last count]
RATE_BATCH = 10  # a worker adds its requests to the shared counter every 10 requests …
RATE_MARGIN = 100  # … or at every request once the counter is within this of the limit


def over_rate(client: Client) -> bool:
    """The key's requests this minute (all workers, one shared counter) exceed its rate. Far from the
    limit a worker adds its requests in batches of RATE_BATCH (one write per 10 requests); near the
    limit, at every request, so the limit itself is exact (up to RATE_BATCH per worker early on)."""
    minute = int(time.time() // 60)
    st = _RATE.get(client.digest)
    if st is None or st[0] != minute:
        st = _RATE[client.digest] = [minute, 0, 0]
    st[1] += 1
    if st[1] < RATE_BATCH and st[2] + st[1] < client.rate_per_minute - RATE_MARGIN:
        return False
    table = RateWindow._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":  # a lost count on a crash is harmless: no WAL flush wait
            cur.execute("SET LOCAL synchronous_commit TO OFF")
        cur.execute(
            f"INSERT INTO {table} (client_id, minute, count) VALUES (%s, %s, %s) "
            f"ON CONFLICT (client_id, minute) DO UPDATE SET count = {table}.count + excluded.count RETURNING count",
            [client.pk, minute, st[1]],
        )
        st[2], st[1] = cur.fetchone()[0], 0
    return st[2] > client.rate_per_minute


# --- the screening ---------------------------------------------------------------------------------


@dataclass
class Result:
    status: int
    answer: dict
    replay: bool = False
    findings: list[dict] = field(default_factory=list)


def verdict_of(codes) -> str:
    counted = [c for c in codes if c not in settings.CUSTOS_SCREEN_IGNORE or c in gates.ALWAYS_REJECT]
    if any(c in settings.CUSTOS_SCREEN_REJECT or c in gates.ALWAYS_REJECT for c in counted):
        return Screening.Verdict.REJECT
    return Screening.Verdict.REFER if counted else Screening.Verdict.PASS


def _blocking(code: str) -> str:
    if code in gates.ALWAYS_REJECT:
        return "reject"
    if code in settings.CUSTOS_SCREEN_IGNORE:
        return "none"
    return "reject" if code in settings.CUSTOS_SCREEN_REJECT else "refer"


def _book_rows(policy_no: str) -> dict[str, list[dict]]:
    """The book's changes and return visits of an existing policy (SC01, PH08), by its index."""
    from custos.book.models import Change, Visit

    out = {}
    with connection.cursor() as cur:
        for name, model in (("changes", Change), ("visits", Visit)):
            cols = [c.name for c in TABLES[name].columns]
            cur.execute(
                f"SELECT {', '.join(cols)} FROM {model._meta.db_table} WHERE policy_no = %s AND gone_load_id IS NULL",
                [policy_no],
            )
            rows = []
            for r in cur.fetchall():
                row = {}
                for c, v in zip(cols, r, strict=True):
                    if isinstance(v, str) and c in ("changed_at", "visited_at"):  # SQLite: text
                        v = dt.datetime.fromisoformat(v)
                    if isinstance(v, dt.datetime):
                        v = timezone.localtime(v if v.tzinfo else v.replace(tzinfo=dt.UTC)).replace(
                            tzinfo=None
                        )
                    row[c] = None if v == "" else v
                rows.append(row)
            out[name] = rows
    return out


def evaluate(
    records: dict[str, list[dict]],
    st: dict | None = None,
    *,
    scope: context.Scope = context.ANY,
    in_book: bool = False,
):
    """Findings of one application (its rows per table) with its context in ``scope``; its parties'
    keys. ``in_book``: the policy is the book's (held inside the scope), its changes and visits count."""
    st = st or evaluator()
    ev, ix = st["ev"], st["ix"]
    policy = records["policies"][0]
    pno = [policy["policy_no"]]
    keys = ev.keys({"policies": records["policies"], "parties": records["parties"]}, pno)
    ctx = context.fetch(keys, policy, ix, st["min_applicants"], scope)
    book = _book_rows(policy["policy_no"]) if in_book else {"changes": [], "visits": []}
    extra = {
        "parties": ctx.tables.get("parties", []),
        "changes": book["changes"] + records.get("changes", []),
        "visits": book["visits"],
        **{k: v for k, v in ctx.tables.items() if k != "parties"},
    }
    return ev.evaluate_more(extra, pno), keys


def _answer(app_id: str, policy: dict, found: list[dict], verdict: str, st: dict) -> dict:
    checks = st["checks"]
    findings = []
    for f in found:
        c = checks[f["check"]]
        findings.append(
            {
                "code": f["check"],
                "role": f["role"],
                "seq": f["seq"],
                "field": f["field"],
                "severity": c.severity,
                "category": c.category,
                "blocking": _blocking(f["check"]),
                "message_zh": c.message_zh,
                "message_en": c.message_en,
                "proposed": f["proposed"],
            }
        )
    return {
        "application_id": app_id,
        "policy_no": policy["policy_no"],
        "verdict": verdict,
        "findings": findings,
        "screening_id": None,
        "screened_at": timezone.now().isoformat(),
        "settings": st["fingerprint"],
    }


def _done(client: Client, app_id: str) -> Result | None:
    """The first answer to this application id, if it was screened (a retry)."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, response FROM {SCREENING_TABLE} WHERE client_id = %s AND application_id = %s",
            [client.pk, app_id],
        )
        row = cur.fetchone()
    if row is None:
        return None
    answer = json.loads(crypto_keys().open_(row[1], RESPONSE_AD))
    answer["screening_id"] = row[0]
    return Result(200, answer, replay=True)


def screen(client: Client, doc, *, record: bool = True) -> Result:
    """Screen one request document for ``client``: 400 (every field error), 403 (out of the key's
    scope), 429 (rate), 409 (the policy number is held outside the key's scope), or 200 with the
    answer. A retry of an application id returns the first answer."""
    started = time.perf_counter()
    try:
        app_id, records = parse(doc)
    except Invalid as exc:
        return Result(400, {"detail": "invalid application", "errors": exc.errors})
    policy = records["policies"][0]
    why = out_of_scope(client, policy)
    if why:
        return Result(403, {"detail": why})
    if over_rate(client):
        return Result(429, {"detail": f"rate limit of {client.rate_per_minute} screenings a minute reached"})
    done = _done(client, app_id)
    if done is not None:
        return done
    scope = context.Scope.of(client)
    held = context.owner(policy["policy_no"])
    if held.refused_by(scope):
        return Result(409, {"detail": HELD_ELSEWHERE})
    st = evaluator()
    found, keys = evaluate(records, st, scope=scope, in_book=held.in_book)
    found += gates.findings(policy)  # PT01: a terminated partner's new business
    codes = sorted(f["check"] for f in found)
    verdict = verdict_of(codes)
    answer = _answer(app_id, policy, found, verdict, st)
    if not record:
        return Result(200, answer, findings=found)
    elapsed = (time.perf_counter() - started) * 1000
    k = st["keys"]
    values = [
        client.pk,
        app_id,
        policy["policy_no"],
        policy.get("channel") or "",
        policy.get("branch_code") or "",
        policy.get("agent_no") or "",
        policy.get("partner_code") or "",
        verdict,
        json.dumps(codes),
        len(found),
        st["fingerprint"],
        k.seal(json.dumps(answer, ensure_ascii=False), RESPONSE_AD),
        k.seal(json.dumps(found, ensure_ascii=False, default=str), FINDINGS_AD),
        connection.ops.adapt_datetimefield_value(timezone.now()),
        round(elapsed, 2),
    ]
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {SCREENING_TABLE} (client_id, application_id, policy_no, channel, branch_code, agent_no, "
                "partner_code, verdict, codes, finding_count, settings_fingerprint, response, findings, created_at, "
                f"elapsed_ms) VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
                values,
            )
            answer["screening_id"] = cur.fetchone()[0]
            if not held.in_book:  # the book's rows change with the book only
                context.remember(policy, records["parties"], keys, st["ix"], held.existing, scope)
    except IntegrityError:  # the same application id screened concurrently: the first answer stands
        return _done(client, app_id)
    return Result(200, answer, findings=found)


def neutral(value):
    """A cell safe for spreadsheets (the shared export guard against formula injection)."""
    from custos.domain.spreadsheet import neutralise

    return neutralise(value) if isinstance(value, str) else value
