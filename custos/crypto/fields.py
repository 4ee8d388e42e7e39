"""Field encryption: `seal`/`open_` a text value with AES-256-GCM under the newest data key,
`blind_index` for equality search, and the Django fields that use them.

Stored form: "e1:<key id>:<base64(nonce | ciphertext+tag)>" (key ids are 8 hex digits, so the nonce's
base64 is always characters 13–28). The associated data binds a ciphertext to its column
("book_party.id_no"), so a value cannot be moved to another column unnoticed. Empty values stay
empty (absence is not secret, and checks need to see it).

Two nonce modes:

- random (default): a fresh 96-bit nonce per value; equal values encrypt differently.
- deterministic (`deterministic=True`, the book's columns): the nonce is keyed BLAKE2b (a PRF;
  3× cheaper here than HMAC-SHA256) of column ‖ value under the nonce key, 12 bytes: a synthetic IV
  as in SIV. Equal values of one column get the same nonce under
  every data key, so the loader can tell a changed value from an unchanged one in SQL by comparing
  the nonce (`compare_sql`) even while rotation has left rows under two keys. A nonce repeats only
  for an equal value (no GCM nonce reuse across different plaintexts); the cost is that equality of
  values inside one column is visible, as a blind index would show it.

Blind indexes: HMAC-SHA256(blind-index key, kind ‖ normalised value), 32 hex characters, one *kind*
per meaning ("id_no", "mobile"), not per column: the staff ID index and the party ID index can be
joined. See docs/security.md ("Encryption at rest") for how apps use these.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import FieldError
from django.db import models

from custos import paths
from custos.crypto import keyring

PREFIX = "e1:"
KEY_ID_LEN = 8
# 1-based position and length of the nonce's base64 inside a stored value (SQL substr)
NONCE_AT, NONCE_CHARS = len(PREFIX) + KEY_ID_LEN + 2, 16


class KeyMissing(LookupError):
    pass


@dataclass(frozen=True)
class Keys:
    data_keys: dict[str, bytes]  # id -> key, in keyring order
    current_id: str
    blind_key: bytes
    # Derived from the blind-index key unless the keyring pins them (it does once that key has been
    # replaced: `custos keys replace-index-key`), so replacing it changes neither the synthetic nonces
    # of stored values nor the digests that trace issued extraction files.
    nonce_key: bytes = b""
    tracing_key: bytes = b""

    def __post_init__(self):
        if not self.nonce_key:
            object.__setattr__(self, "nonce_key", derived_nonce_key(self.blind_key))
        if not self.tracing_key:
            object.__setattr__(self, "tracing_key", self.blind_key)

    @classmethod
    def from_keyring(cls, data: dict | None = None) -> Keys:
        data = keyring.read() if data is None else data
        entries = data.get("data_keys") or []
        if not entries or not data.get("blind_index_key"):
            raise KeyMissing("the keyring has no data keys: run `custos init`")
        for e in entries:
            if len(e["id"]) != KEY_ID_LEN or ":" in e["id"]:
                raise KeyMissing(f"data key id {e['id']!r} must be {KEY_ID_LEN} characters without ':'")
        keys = {e["id"]: base64.b64decode(e["key"]) for e in entries}
        current = data.get("primary_data_key") or entries[-1]["id"]
        if current not in keys:
            raise KeyMissing(f"primary data key {current} is not in the keyring")
        pinned = {k: base64.b64decode(data[f]) for k, f in _PINNED.items() if data.get(f)}
        return cls(keys, current, base64.b64decode(data["blind_index_key"]), **pinned)

    @cached_property
    def _aead(self) -> dict[str, AESGCM]:
        return {kid: AESGCM(key) for kid, key in self.data_keys.items()}

    @cached_property
    def _head(self) -> str:
        return f"{PREFIX}{self.current_id}:"

    def seal(self, value: str | None, column: str, *, deterministic: bool = False) -> str:
        if not value:
            return ""
        data, ad = value.encode(), column.encode()
        if deterministic:
            nonce = hashlib.blake2b(ad + b"\x00" + data, key=self.nonce_key, digest_size=12).digest()
        else:
            nonce = os.urandom(12)
        ct = self._aead[self.current_id].encrypt(nonce, data, ad)
        return self._head + base64.b64encode(nonce + ct).decode()

    def sealer(self, column: str, *, deterministic: bool = True):
        """A fast one-argument sealer for bulk writers (loader, findings): value -> stored text."""
        enc = self._aead[self.current_id].encrypt
        ad = column.encode()
        head = self._head
        nk = self.nonce_key
        blake2b = hashlib.blake2b
        b64 = base64.b64encode
        prefix = ad + b"\x00"

        def seal(value):
            if not value:
                return value
            data = value.encode()
            nonce = (
                blake2b(prefix + data, key=nk, digest_size=12).digest() if deterministic else os.urandom(12)
            )
            return head + b64(nonce + enc(nonce, data, ad)).decode()

        return seal

    def opener(self, column: str):
        """A fast one-argument opener for bulk readers (snapshot): stored text -> value."""
        ad = column.encode()
        aead = self._aead
        b64d = base64.b64decode
        start = len(PREFIX) + KEY_ID_LEN + 1

        def open_(stored):
            if not stored:
                return stored
            a = aead.get(stored[len(PREFIX) : start - 1])
            if a is None or not stored.startswith(PREFIX):
                return open_value(stored, column)  # a key rotated in meanwhile, or the clear error
            raw = b64d(stored[start:])
            return a.decrypt(raw[:12], raw[12:], ad).decode()

        return open_

    def open_(self, stored: str | None, column: str) -> str:
        if not stored:
            return ""
        if not stored.startswith(PREFIX):
            raise ValueError(f"{column}: value is not encrypted")
        kid, _, body = stored[len(PREFIX) :].partition(":")
        aead = self._aead.get(kid)
        if aead is None:
            raise KeyMissing(f"{column}: data key {kid} is not in the keyring")
        raw = base64.b64decode(body)
        return aead.decrypt(raw[:12], raw[12:], column.encode()).decode()

    def key_id_of(self, stored: str) -> str | None:
        return stored[len(PREFIX) :].split(":", 1)[0] if stored and stored.startswith(PREFIX) else None

    def blind_index(self, value: str | None, column: str) -> str:
        """Keyed, deterministic digest for equality search; empty for empty values. `column` is the
        kind of value ("id_no", "mobile"); values are normalised for that kind first."""
        return _digest(self.blind_key, column, value)

    def tracing_index(self, value: str | None, kind: str) -> str:
        """``blind_index`` under the tracing key: the digests leak tracing compares (canaries, cells
        of issued extraction files), which must outlive a replaced blind-index key."""
        return _digest(self.tracing_key, kind, value)

    def blind_indexer(self, kind: str):
        """A fast one-argument `blind_index(value, kind)` for bulk writers (same digests)."""
        base = hmac.new(self.blind_key, f"{kind}\x00".encode(), hashlib.sha256)  # keyed once

        def bidx(value):
            if not value:
                return ""
            v = normalise(value, kind)
            if not v:
                return ""
            h = base.copy()
            h.update(v.encode())
            return h.hexdigest()[:32]

        return bidx


def _digest(key: bytes, kind: str, value: str | None) -> str:
    if not value:
        return ""
    value = normalise(value, kind)
    if not value:
        return ""
    return hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]


# Keys: field -> keyring entry of the keys pinned when the blind-index key is replaced.
_PINNED = {"nonce_key": "synthetic_nonce_key", "tracing_key": "tracing_key"}


def derived_nonce_key(blind_key: bytes) -> bytes:
    return hmac.digest(blind_key, b"custos synthetic nonce", "sha256")


_NOT_DIGIT = re.compile(r"\D")


def normalise(value: str, kind: str) -> str:
    """The form a blind index is computed on: ID numbers trimmed and upper-case (x -> X), mobiles as
    their 11 digits (spaces, dashes and a +86/0086 prefix dropped). Other kinds: trimmed."""
    value = value.strip()
    if kind == "id_no":
        return value.replace(" ", "").upper()
    if kind == "mobile":
        digits = _NOT_DIGIT.sub("", value)
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        elif len(digits) == 15 and digits.startswith("0086"):
            digits = digits[4:]
        return digits
    return value


# --- the process's keys ---------------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict = {"path": None, "stamp": None, "keys": None, "checked": 0.0}
RECHECK_SECONDS = 1.0


def _stamp(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def keys(*, reload: bool = False) -> Keys:
    """The keyring's keys, cached per process and re-read when the keyring file changes (another
    process rotated a key). With CUSTOS_AUTO_KEYS=1 (tests, the demo) a keyring without data keys
    gets them; otherwise that is an error telling to run `custos init`."""
    path = paths.keyring_path()
    now = time.monotonic()
    c = _cache
    if not reload and c["keys"] is not None and c["path"] == path and now - c["checked"] < RECHECK_SECONDS:
        return c["keys"]
    with _lock:
        stamp = _stamp(path)
        if reload or c["keys"] is None or c["path"] != path or c["stamp"] != stamp:
            data = keyring.read(path)
            if not data.get("data_keys") and os.environ.get("CUSTOS_AUTO_KEYS") == "1":
                with keyring.editing(path) as data:
                    keyring.ensure_data_keys(data)
                stamp = _stamp(path)
            c["keys"], c["path"], c["stamp"] = Keys.from_keyring(data), path, stamp
        c["checked"] = now
        return c["keys"]


def open_value(stored: str | None, column: str) -> str:
    """Open with the process's keys; a key this process has not seen yet (rotated by another
    process) re-reads the keyring once."""
    try:
        return keys().open_(stored, column)
    except KeyMissing:
        return keys(reload=True).open_(stored, column)


def blind_index(value: str | None, kind: str) -> str:
    """The blind index of `value` for equality search on a `<column>_bidx` column."""
    return keys().blind_index(value, kind)


# --- Django fields --------------------------------------------------------------------------------


class EncryptedTextField(models.TextField):
    """A text column stored sealed (AES-256-GCM, associated data "<db_table>.<column>").

    Python sees plaintext; the database sees "e1:<key id>:…". Only `isnull` and equality with the
    empty string can be queried: search through a blind index column (`BlindIndexField`)."""

    def __init__(self, *args, deterministic: bool = False, ad: str | None = None, **kwargs):
        self.deterministic = deterministic
        self.fixed_ad = ad
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.deterministic:
            kwargs["deterministic"] = True
        if self.fixed_ad:
            kwargs["ad"] = self.fixed_ad
        return name, path, args, kwargs

    @property
    def ad(self) -> str:
        return self.fixed_ad or f"{self.model._meta.db_table}.{self.column}"

    def from_db_value(self, value, expression, connection):
        return self.decode(open_value(value, self.ad)) if value else self.empty()

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = self.encode(value)
        if not value:
            return ""
        if isinstance(value, str) and value.startswith(PREFIX):
            return value  # already sealed (bulk copies between tables, rotation)
        return keys().seal(value, self.ad, deterministic=self.deterministic)

    # JSON subclass hooks
    def encode(self, value):
        return "" if value is None else str(value)

    def decode(self, text: str):
        return text

    def empty(self):
        return ""

    def get_lookup(self, lookup_name):
        if lookup_name in ("isnull",):
            return super().get_lookup(lookup_name)
        if lookup_name == "exact":
            return _EmptyExact
        raise FieldError(
            f"{self.ad} is encrypted: it cannot be searched with '{lookup_name}'; use its blind index"
        )


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (dict/list) stored as sealed JSON text; None stays NULL."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("null", True)
        kwargs.setdefault("default", None)
        super().__init__(*args, **kwargs)

    def encode(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def decode(self, text):
        return json.loads(text)

    def empty(self):
        return None

    def get_prep_value(self, value):
        if value is None:
            return None
        return super().get_prep_value(value)


class _EmptyExact(models.lookups.Exact):
    def __init__(self, lhs, rhs):
        if rhs not in ("", None):
            raise FieldError(
                f"{lhs.target.ad} is encrypted: equality search goes through its blind index "
                "(custos.crypto.fields.blind_index)"
            )
        super().__init__(lhs, rhs)

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [""])


class BlindIndexField(models.CharField):
    """HMAC blind index of another field of the same model, kept in step on every ORM save.
    `BlindIndexField(source="id_no", kind="id_no")`; indexed."""

    def __init__(self, *args, source: str = "", kind: str = "", **kwargs):
        self.source, self.kind = source, kind
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"], kwargs["kind"] = self.source, self.kind
        for k in ("max_length", "blank", "default", "db_index", "editable"):
            kwargs.pop(k, None)
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = blind_index(getattr(model_instance, self.source), self.kind)
        setattr(model_instance, self.attname, value)
        return value


def compare_sql(column_sql: str) -> str:
    """SQL giving the key-independent part (the synthetic nonce) of a deterministically sealed
    column, for change detection: equal values compare equal under any data key."""
    return f"substr({column_sql}, {NONCE_AT}, {NONCE_CHARS})"
