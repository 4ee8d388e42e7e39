"""Extraction settings. Each reads settings.CUSTOS_EXTRACTION_* first, then the environment variable of
the same name, then the default."""

import os
from pathlib import Path

from django.conf import settings

from custos import paths


def _setting(name: str, default: int) -> int:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return int(value)


def expiry_days() -> int:
    """Days after generation (or approval, when never generated) before an extraction expires."""
    return _setting("CUSTOS_EXTRACTION_DAYS", 7)


def max_rows() -> int:
    """Largest extraction (real rows); larger requests are refused and must be narrowed."""
    return _setting("CUSTOS_EXTRACTION_MAX_ROWS", 100_000)


def files_dir() -> Path:
    """Where encrypted extraction files live: CUSTOS_HOME/extractions (mode 700)."""
    d = paths.home() / "extractions"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def trace_max_bytes() -> int:
    """Largest leaked file the trace page accepts (bytes); larger uploads are refused with a 413."""
    return _setting("CUSTOS_LEAK_TRACE_MAX_BYTES", 100_000_000)
