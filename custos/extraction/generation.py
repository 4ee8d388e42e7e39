"""Generation of an approved extraction's file: the rows read through the access service (the
requester's scope ∩ the recipient's, evaluated now), keyed row order, canaries, whitespace marks,
neutralised cells, encrypted at rest. `tasks.run_generate` and `custos extract generate` call
`generate`; docs/extraction.md, "Generation", describes each step.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.service import AccessContext, ReadLogUnavailable
from custos.audit import service as audit
from custos.book.models import Party, Policy, Staff
from custos.core.filemagic import EXTRACTION_FILE
from custos.crypto.fields import Keys
from custos.domain import canary as cn
from custos.domain.spreadsheet import neutralise
from custos.extraction import canaries, conf
from custos.extraction import workflow as wf
from custos.extraction.models import Canary, Extraction
from custos.extraction.workflow import (
    DIGEST_FIELDS,
    FIELD_LABELS,
    KEY_COLUMNS,
    KEY_LABELS,
    MARK_FIELDS,
    ExtractionError,
    IllegalTransition,
)

S = Extraction.State
FILE_MAGIC = EXTRACTION_FILE  # the first bytes of a stored extraction file (custos.core.filemagic)


def _fingerprint_master(keys: Keys) -> bytes:
    """The fingerprint key, derived from the keyring's tracing key (never stored)."""
    return hmac.new(keys.tracing_key, b"custos.extraction.fingerprint", hashlib.sha256).digest()


def cell_digest(keys: Keys, value: str) -> str:
    return keys.tracing_index(value.strip(), "extraction.cell")[:16]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_rows(ext: Extraction, ctx: AccessContext) -> list[dict]:
    """The approved fields of the parties in scope, unmasked, read through the access service.

    `read_parties` applies the requester's scope again and appends the read (action "extract", every
    party id, every field) to the audit log before anything is returned; its masked rows say which
    parties were read. The access service has no unmasked bulk read yet, so the clear values of
    exactly those parties (and of the approved fields only) are then taken from the same scoped query."""
    cols = KEY_COLUMNS + list(ext.fields)
    qs = wf.extraction_parties(ext, ctx)
    limit = conf.max_rows() + 1
    logged = ctx.read_parties(
        qs, action="extract", fields=cols, purpose=f"extraction #{ext.pk}: {ext.purpose}"[:500], limit=limit
    )
    allowed = {(r["policy_no"], r["role"], r["seq"]) for r in logged}
    scoped = qs.filter(policy_no__in=ctx.policies().values("policy_no"))
    rows = scoped.order_by("policy_no", "role", "seq").values(*cols)[:limit]
    return [{c: _text(r[c]) for c in cols} for r in rows if (r["policy_no"], r["role"], r["seq"]) in allowed]


def _is_real(keys: Keys, person: cn.CanaryPerson) -> bool:
    """A canary must never be a real person: no party or staff with its ID or mobile, no earlier canary."""
    real = Q(id_no_bidx=keys.blind_index(person.id_no, "id_no")) | Q(
        mobile_bidx=keys.blind_index(person.mobile, "mobile")
    )  # the book's values are encrypted: search their blind indexes
    if Party.objects.filter(real).exists() or Staff.objects.filter(real).exists():
        return True
    return Canary.objects.filter(
        Q(id_no_bi=keys.tracing_index(person.id_no, "canary.id_no"))
        | Q(mobile_bi=keys.tracing_index(person.mobile, "canary.mobile"))
    ).exists()


def _canaries(ext: Extraction, keys: Keys, key: bytes, rows: list[dict], n: int):
    rng = cn.rng_for(key, "canaries")
    near = sorted({r["id_no"][:6] for r in rows if len(r.get("id_no", "")) == 18})
    taken_policies = {r["policy_no"] for r in rows}
    out = []
    for _i in range(n):
        for _attempt in range(50):
            person = canaries.make_canary(rng, near)
            if not _is_real(keys, person) and all(person.id_no != p.id_no for _t, p in out):
                break
        else:
            raise ExtractionError(_("无法生成与真实客户不重复的诱饵记录。"))
        template = rng.choice(rows)
        for _attempt in range(50):
            policy_no = cn.fake_policy_no(rng, template["policy_no"])
            if policy_no not in taken_policies and not Policy.objects.filter(policy_no=policy_no).exists():
                break
        taken_policies.add(policy_no)
        values = person.values()
        row = {c: template[c] for c in template}
        row["policy_no"] = policy_no
        for f in ext.fields:
            if f in values:
                row[f] = values[f]
            elif f == "id_valid_until":
                row[f] = ""
        out.append((row, person))
    return out


def _render(ext: Extraction, header: list[str], rows: list[list[str]]) -> bytes:
    if ext.file_format == Extraction.Format.CSV:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)
        return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"title": f"custos extraction #{ext.pk}", "company": "custos"})
    ws = wb.add_worksheet("data")
    for j, h in enumerate(header):
        ws.write_string(0, j, h)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            ws.write_string(i, j, v)
    wb.close()
    return out.getvalue()


def _aad(ext: Extraction) -> bytes:
    return f"custos.extraction:{ext.pk}:{ext.nonce}".encode()


def seal_file(keys: Keys, ext: Extraction, data: bytes) -> bytes:
    """MAGIC | key id length | key id | nonce | AES-256-GCM(data), bound to the extraction."""
    kid = keys.current_id.encode()
    nonce = os.urandom(12)
    ct = AESGCM(keys.data_keys[keys.current_id]).encrypt(nonce, data, _aad(ext))
    return FILE_MAGIC + bytes([len(kid)]) + kid + nonce + ct


def open_file(keys: Keys, ext: Extraction, blob: bytes) -> bytes:
    if not blob.startswith(FILE_MAGIC):
        raise ValueError("not an extraction file")
    n = blob[4]
    kid = blob[5 : 5 + n].decode()
    nonce, ct = blob[5 + n : 17 + n], blob[17 + n :]
    return AESGCM(keys.data_keys[kid]).decrypt(nonce, ct, _aad(ext))


def generate(ext_id: int) -> Extraction:
    """Build the file of an approved extraction: rows read through the access service in the requester's
    scope, keyed row order, whitespace marks, canaries; neutralised, encrypted, stored."""
    ext = Extraction.objects.select_related("requester", "recipient_user").get(pk=ext_id)
    if ext.state != S.APPROVED:
        raise IllegalTransition(
            _("提取申请 #%(id)s 当前状态为“%(state)s”，不能生成文件。")
            % {"id": ext.pk, "state": S(ext.state).label}
        )
    try:
        wf.check_partners(ext)
        keys = Keys.from_keyring()
        ctx = AccessContext.for_user(ext.requester, client="extraction")
        rows = read_rows(ext, ctx)
        if not rows:
            if wf.scoped_parties(
                ctx, ext.scope
            ).exists():  # the requester's rows are there: not the recipient's
                raise ExtractionError(
                    _(
                        "接收人 %(who)s 的权限范围内已没有符合条件的客户（接收人可能已离职、停用或调整了权限），不生成文件。"
                    )
                    % {"who": ext.recipient_label}
                )
            raise ExtractionError(_("申请人权限范围内已没有符合条件的客户。"))
        if len(rows) > conf.max_rows():
            raise ExtractionError(_("符合条件的客户超过单次提取上限，请缩小范围。"))
    except (ExtractionError, ReadLogUnavailable, LookupError) as exc:
        wf.move(ext, S.FAILED, None, str(exc)[:500], error=str(exc)[:500])
        raise
    key = cn.extraction_key(_fingerprint_master(keys), ext.pk, ext.nonce)
    cols = KEY_COLUMNS + list(ext.fields)
    mark_field = next(f for f in MARK_FIELDS if f in cols)

    def row_key(r: dict) -> str:
        return f"{r['policy_no']}\x00{r['role']}\x00{r['seq']}"

    ordered = [rows[i] for i in cn.row_order(key, [row_key(r) for r in rows])]
    planted = _canaries(ext, keys, key, rows, cn.canary_count(len(rows)))
    positions = cn.canary_positions(key, len(ordered), len(planted))
    final: list[tuple[dict, cn.CanaryPerson | None]] = [(r, None) for r in ordered]
    for pos, (row, person) in zip(positions, planted, strict=True):
        final.insert(pos, (row, person))

    header = [neutralise(str(KEY_LABELS.get(c) or FIELD_LABELS[c])) for c in cols]
    body, manifest, canary_rows = [], [], []
    for pos, (row, person) in enumerate(final):
        cells = [neutralise(row[c]) for c in cols]
        bit = cn.mark_bit(key, row_key(row))
        digests = [cell_digest(keys, cells[cols.index(c)]) for c in DIGEST_FIELDS if c in cols and row[c]]
        if bit:
            j = cols.index(mark_field)
            if cells[j]:
                cells[j] += cn.MARK
            else:
                bit = False
        body.append(cells)
        manifest.append([pos, digests, int(bit), int(person is not None)])
        if person is not None:
            canary_rows.append(
                Canary(
                    extraction=ext,
                    position=pos,
                    policy_no=row["policy_no"],
                    name_enc=keys.seal(person.name, "canary.name"),
                    id_no_enc=keys.seal(person.id_no, "canary.id_no"),
                    mobile_enc=keys.seal(person.mobile, "canary.mobile"),
                    address_enc=keys.seal(person.address, "canary.address"),
                    name_bi=keys.tracing_index(person.name, "canary.name"),
                    id_no_bi=keys.tracing_index(person.id_no, "canary.id_no"),
                    mobile_bi=keys.tracing_index(person.mobile, "canary.mobile"),
                    address_bi=keys.tracing_index(person.address, "canary.address"),
                )
            )
    data = _render(ext, header, body)
    path = conf.files_dir() / f"{ext.pk}-{secrets.token_hex(8)}.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(seal_file(keys, ext, data))
    now = timezone.now()
    try:
        with transaction.atomic():
            Canary.objects.bulk_create(canary_rows)
            wf.move(
                ext,
                S.GENERATED,
                None,
                # the canary count stays out of the history its recipient reads (canary_count holds it)
                _("已生成：%(rows)s 行") % {"rows": len(rows)},
                generated_at=now,
                expires_at=now + dt.timedelta(days=conf.expiry_days()),
                row_count=len(rows),
                canary_count=len(canary_rows),
                file_path=str(path),
                file_sha256=hashlib.sha256(data).hexdigest(),
                file_bytes=len(data),
                manifest=manifest,
                mark_field=mark_field,
                error="",
            )
    except (IntegrityError, ExtractionError, audit.AuditWriteError):
        path.unlink(missing_ok=True)
        raise
    return ext
