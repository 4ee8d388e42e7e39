"""Extraction values and files sealed outside EncryptedTextField, registered for key rotation."""

from custos.core.filemagic import extraction_file_key_id
from custos.crypto.registry import Column


def sealed_columns() -> list[Column]:
    from custos.extraction.models import Canary

    return [
        Column(Canary._meta.db_table, f"{n}_enc", f"canary.{n}")
        for n in ("name", "id_no", "mobile", "address")
    ]


def file_keys() -> set[str]:
    """Key ids of extraction files still on disk (they expire and are deleted; not re-sealed)."""
    from custos.extraction.models import Extraction

    out = set()
    for path in Extraction.objects.exclude(file_path="").values_list("file_path", flat=True):
        try:
            with open(path, "rb") as f:
                head = f.read(64)
        except OSError:
            continue
        if (kid := extraction_file_key_id(head)) is not None:
            out.add(kid)
    return out
