"""Evidence files: checked by their first bytes, stored sealed."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _

from custos import paths
from custos.remediation import conf
from custos.remediation.models import (
    Evidence,
)
from custos.remediation.services.errors import (
    EvidenceRejected,
)

# --- keys ---------------------------------------------------------------------------------------


def _keys():
    from custos.crypto.fields import Keys

    return Keys.from_keyring()


# --- evidence -------------------------------------------------------------------------------------


def evidence_dir() -> Path:
    d = paths.home() / "evidence"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def store_evidence(filename: str, data: bytes, user) -> Evidence:
    """Check the file's size and type (by its first bytes, not its name) and store it encrypted."""
    limit = int(conf.get("evidence_max_bytes"))
    if not data:
        raise EvidenceRejected(_("证明文件为空。"))
    if len(data) > limit:
        raise EvidenceRejected(_("证明文件超过 %(mb)s MB。") % {"mb": f"{limit / 1024 / 1024:g}"})
    ctype = next((t for t, magic in conf.get("evidence_types").items() if data.startswith(magic)), None)
    if ctype is None:
        raise EvidenceRejected(_("证明文件只接受 PDF、JPEG、PNG。"))
    path = evidence_dir() / f"{secrets.token_hex(16)}.sealed"
    sealed = _keys().seal(base64.b64encode(data).decode(), "remediation.evidence")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(sealed)
    return Evidence.objects.create(
        filename=Path(filename or "evidence").name[:200], content_type=ctype, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), path=str(path), uploaded_by=user,
        uploaded_at=timezone.now(),
    )  # fmt: skip


def open_evidence(evidence: Evidence) -> bytes:
    sealed = Path(evidence.path).read_text()
    return base64.b64decode(_keys().open_(sealed, "remediation.evidence"))
