"""The integrity tag of a customer row: what it covers, how it is encoded, how it is computed.

A tag is keyed BLAKE2b (a MAC by design, RFC 7693; 16 bytes, 32 hex characters) under the
integrity key, over a canonical encoding of

    db table ‖ row id ‖ every covered column as stored [‖ the party's history digest]

- Plain columns: their text (`''` for NULL); dates as `YYYY-MM-DD`; numbers in decimal.
- Sealed columns (`custos.crypto.fields`, deterministic): the ciphertext's **synthetic nonce** (the
  16 base64 characters after `e1:<key id>:`), a keyed PRF of column ‖ plaintext that every data
  key shares. Moving a ciphertext to another row changes it (unless the value is equal), a
  ciphertext can only be forged with the data key, and rotation (which re-seals with the same
  nonce) leaves every tag as it was. A value in clear in a sealed column counts as `clear:<value>`.
- A party's tag also covers the XOR of the tags of its `PartyHistory` rows (each bound to its own
  id): deleting, adding or editing a history row makes the party's tag fail too.

Verification needs no decryption: the database computes every component with `substr`/`CAST`
(`select_exprs`) and Python joins and hashes them. The loader computes the same components from the
rows it writes (`batch_tagger`). The encoding is fixed here, column by column; a new customer column
is added to SPECS deliberately (tests/test_integrity.py checks that every column is covered).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

from custos.crypto.fields import NONCE_AT, NONCE_CHARS, PREFIX, keys

PLAIN, DATE, SEALED, HISTORY_VALUE = "plain", "date", "sealed", "history_value"
TAG_CHARS = 32
ZERO = "0" * TAG_CHARS
SEP = "\x1f"  # between the components of the encoding
SEALED_PARTY_FIELDS = ("id_no", "mobile", "phone", "address", "email")  # = book.models.SEALED_PARTY_FIELDS


@dataclass(frozen=True)
class Spec:
    db_table: str
    columns: tuple[tuple[str, str], ...]  # (column, kind) in canonical order
    key: tuple[str, ...]  # the natural key, for reports
    history: bool = False  # the party: its tag covers its history rows' digest

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]


def _spec(db_table: str, key: str, columns: str, history: bool = False) -> Spec:
    """Columns as "name name:D name:S …": D a date, S sealed, H a history value; plain otherwise."""
    kinds = {"": PLAIN, "D": DATE, "S": SEALED, "H": HISTORY_VALUE}
    cols = tuple((c, kinds[k]) for c, _, k in (w.partition(":") for w in columns.split()))
    return Spec(db_table, cols, tuple(key.split()), history)


PARTY = _spec(
    "book_party",
    "policy_no role seq",
    "policy_no role seq relation name gender birth_date:D id_type id_no:S id_no_bidx id_valid_until:D"
    " nationality mobile:S mobile_bidx phone:S address:S postcode email:S occupation_code original:S extra:S",
    history=True,
)
STAFF = _spec(
    "book_staff",
    "staff_no",
    "staff_no name gender id_type id_no:S id_no_bidx mobile:S mobile_bidx address:S branch_code channel"
    " position supervisor_no hired_on:D left_on:D original:S extra:S",
)
PARTNER = _spec(
    "book_partner",
    "partner_code",
    "partner_code name kind branch_code address:S phone:S contract_no contract_until:D status original:S extra:S",
)
HISTORY = _spec(
    "book_partyhistory",
    "policy_no role seq field",
    "policy_no role seq field old_value:H new_value:H load_id",
)
SPECS = {s.db_table: s for s in (PARTY, STAFF, PARTNER, HISTORY)}
# in which order `verify` reads them: history first (the parties' digests need it)
ORDER = (HISTORY, PARTY, STAFF, PARTNER)
PARTY_KEY_AT = (2, 3, 4)  # policy_no, role, seq in a selected row: id, tag, id text, policy_no, …


@lru_cache(maxsize=4)
def _derive(tracing_key: bytes) -> bytes:
    return hmac.digest(tracing_key, b"custos integrity tag", "sha256")


def integrity_key() -> bytes:
    """The integrity key: derived from the keyring's tracing key, which a replaced blind-index key
    leaves as it was (custos.crypto.indexkey pins it), so tags outlive both data-key rotation and
    blind-index key replacement."""
    return _derive(keys().tracing_key)


def message(db_table: str, comps) -> bytes:
    """The canonical encoding: U+001F-joined components; a component holding that character switches to
    JSON (marked by a leading \\x01), so that two different rows never encode alike."""
    s = SEP.join(comps)
    if s.count(SEP) != len(comps) - 1:
        s = "\x01" + json.dumps(list(comps), ensure_ascii=False)
    return f"{db_table}\x00{s}".encode()


def tag(db_table: str, comps, key: bytes | None = None) -> str:
    return hashlib.blake2b(
        message(db_table, comps), key=key or integrity_key(), digest_size=TAG_CHARS // 2
    ).hexdigest()


def tagger(db_table: str, key: bytes | None = None):
    """A fast tag(comps) for one table (bulk verification and tagging)."""
    key = key or integrity_key()
    head = f"{db_table}\x00"
    blake2b = hashlib.blake2b
    dumps = json.dumps

    def tag_of(comps) -> str:
        s = SEP.join(comps)
        if s.count(SEP) != len(comps) - 1:
            s = "\x01" + dumps(list(comps), ensure_ascii=False)
        return blake2b((head + s).encode(), key=key, digest_size=16).hexdigest()

    return tag_of


def xor(a: str, b: str) -> str:
    return format(int(a or ZERO, 16) ^ int(b or ZERO, 16), "032x")


# --- SQL: every component computed by the database ------------------------------------------------


def _sealed_sql(col: str) -> str:
    return (
        f"CASE WHEN {col} IS NULL OR {col} = '' THEN '' "
        f"WHEN substr({col}, 1, {len(PREFIX)}) = '{PREFIX}' THEN substr({col}, {NONCE_AT}, {NONCE_CHARS}) "
        f"ELSE 'clear:' || {col} END"
    )


def select_exprs(spec: Spec, vendor: str, qn, alias: str = "") -> list[str]:
    """SQL expressions giving: id, stored tag, then every component as text (id first)."""
    a = f"{alias}." if alias else ""
    out = [f"{a}id", f"{a}integrity_tag", f"CAST({a}id AS TEXT)"]
    for col, kind in spec.columns:
        c = a + qn(col)
        if kind == SEALED:
            out.append(_sealed_sql(c))
        elif kind == HISTORY_VALUE:
            fields = ", ".join(f"'{f}'" for f in SEALED_PARTY_FIELDS)
            out.append(
                f"CASE WHEN {a}{qn('field')} IN ({fields}) THEN {_sealed_sql(c)} ELSE COALESCE({c}, '') END"
            )
        elif kind == DATE and vendor == "postgresql":
            out.append(f"COALESCE(to_char({c}, 'YYYY-MM-DD'), '')")
        else:
            out.append(f"COALESCE(CAST({c} AS TEXT), '')")
    return out


# --- Python: the same components from the values the loader writes --------------------------------


def _text(v) -> str:
    return "" if v is None else v if type(v) is str else str(v)


def _nonce_of(v) -> str:
    if not v:
        return ""
    if v.startswith(PREFIX):
        return v[NONCE_AT - 1 : NONCE_AT - 1 + NONCE_CHARS]
    return "clear:" + v


_NONCE = itemgetter(slice(NONCE_AT - 1, NONCE_AT - 1 + NONCE_CHARS))


def batch_tagger(spec: Spec, names: list[str], key: bytes | None = None):
    """For rows about to be inserted as they are (columns `names`, sealed values already sealed):
    `tags(batch, ids)` → the tags of the rows (the party's history digest is ZERO: a new row has no
    history). Column-wise, like the loader's sealing."""
    at = [(names.index(c), kind) for c, kind in spec.columns]
    tag_of = tagger(spec.db_table, key)

    def tags(batch: list, ids: list[int]) -> list[str]:
        if not batch:
            return []
        cols = list(zip(*batch, strict=True))
        comps = [list(map(str, ids))]
        for i, kind in at:
            col = cols[i]
            if None in col:
                col = ["" if v is None else v for v in col]
            if kind == SEALED:
                comps.append(list(map(_NONCE, col)))  # the loader seals every non-empty value
            elif col and type(col[0]) is not str:
                comps.append(list(map(_text, col)))  # numbers (seq)
            else:
                comps.append(col)
        if spec.history:
            comps.append([ZERO] * len(batch))
        return [tag_of(c) for c in zip(*comps, strict=True)]

    return tags
