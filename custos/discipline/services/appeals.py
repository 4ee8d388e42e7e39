"""Appeal files: checked by size and first bytes, stored sealed under CUSTOS_HOME/discipline, as the
remediation evidence is (custos.remediation.services.evidence), and re-sealed by key rotation."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _

from custos import paths
from custos.discipline import conf
from custos.discipline.models import AppealFile

AD = "discipline.appeal"


def _keys():
    from custos.crypto.fields import keys

    return keys()


def files_dir() -> Path:
    d = paths.home() / "discipline"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def check_size(size: int) -> None:
    from custos.discipline.services.cases import DisciplineError

    limit = int(conf.get("appeal_max_bytes"))
    if not size:
        raise DisciplineError(_("申诉材料文件为空。"))
    if size > limit:
        raise DisciplineError(_("申诉材料超过 %(mb)s MB。") % {"mb": f"{limit / 1024 / 1024:g}"})


def check(data: bytes) -> str:
    """The content type of an acceptable appeal file; DisciplineError saying why not otherwise."""
    from custos.discipline.services.cases import DisciplineError

    check_size(len(data))
    ctype = next((t for t, magic in conf.get("appeal_types").items() if data.startswith(magic)), None)
    if ctype is None:
        raise DisciplineError(_("申诉材料只接受 PDF、JPEG、PNG。"))
    return ctype


def store(filename: str, data: bytes, user) -> AppealFile:
    ctype = check(data)
    path = files_dir() / f"{secrets.token_hex(16)}.sealed"
    sealed = _keys().seal(base64.b64encode(data).decode(), AD)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(sealed)
    return AppealFile.objects.create(
        filename=Path(filename or "appeal").name[:200],
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        path=str(path),
        uploaded_by=user,
        uploaded_at=timezone.now(),
    )


def read(f: AppealFile) -> bytes:
    return base64.b64decode(_keys().open_(Path(f.path).read_text(), AD))


def reseal_files() -> int:
    """Appeal files re-sealed under the current data key (key rotation)."""
    from custos.crypto.fields import PREFIX

    k = _keys()
    head = f"{PREFIX}{k.current_id}:"
    n = 0
    for f in AppealFile.objects.only("path").iterator():
        p = Path(f.path)
        try:
            sealed = p.read_text()
        except FileNotFoundError:
            continue
        if sealed.startswith(head):
            continue
        value = k.open_(sealed, AD)
        tmp = p.with_name(p.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(k.seal(value, AD))
        os.replace(tmp, p)
        n += 1
    return n
