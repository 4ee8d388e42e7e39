"""Receiving a book upload (web page and API share this): check it, store it under
CUSTOS_HOME/uploads, create the BookLoad (queued) and enqueue the load job."""

import hashlib
import re
import unicodedata
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from custos import paths
from custos.book.models import BookLoad

ALLOWED_SUFFIXES = (".zip", ".xlsx", ".csv", ".parquet")


class UploadRejected(ValueError):
    """The upload is not acceptable; the message is for the user."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def safe_filename(name: str) -> str:
    """Keep the base name only, letters (any script), digits, dot, dash, underscore; never empty, never hidden."""
    name = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\-]+", "_", name).strip("._") or "upload"
    stem, dot, suffix = name.rpartition(".")
    if dot and len(name) > 150:
        name = stem[: 149 - len(suffix)] + "." + suffix
    return name[:150]


def accept_upload(uploaded, *, user, mode: str = "full", mapping: Path | None = None) -> BookLoad:
    """Validate and store an UploadedFile, create a queued BookLoad and enqueue run_load."""
    from custos.book.tasks import run_load

    name = safe_filename(uploaded.name)
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise UploadRejected(
            _("不支持的文件类型；请上传 %(types)s 文件。") % {"types": " / ".join(ALLOWED_SUFFIXES)}
        )
    limit = settings.CUSTOS_MAX_UPLOAD_BYTES
    if uploaded.size is None or uploaded.size > limit:
        raise UploadRejected(_("文件超过大小上限（%(limit)s 字节）。") % {"limit": limit}, status=413)
    if uploaded.size == 0:
        raise UploadRejected(_("文件为空。"))
    if mode not in BookLoad.Mode.values:
        raise UploadRejected(_("未知的加载方式：%(mode)s") % {"mode": mode})

    target_dir = paths.uploads_dir() / uuid.uuid4().hex
    target_dir.mkdir(parents=True, mode=0o700)
    target = target_dir / name
    digest = hashlib.sha256()
    with open(target, "xb") as out:
        for chunk in uploaded.chunks():
            digest.update(chunk)
            out.write(chunk)
    target.chmod(0o600)

    load = BookLoad.objects.create(
        source_name=name,
        sha256=digest.hexdigest(),
        mode=mode,
        status=BookLoad.Status.QUEUED,
        created_by=user if getattr(user, "pk", None) else None,
    )
    # Enqueue only once the row is committed, so that the consumer finds it.
    transaction.on_commit(lambda: run_load(load.pk, str(target), mode, str(mapping) if mapping else None))
    return load
