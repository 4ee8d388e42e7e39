"""Remediation values and files sealed outside EncryptedTextField, registered for key rotation."""

import os
from pathlib import Path

from custos.crypto.fields import PREFIX, keys
from custos.crypto.registry import Column


def sealed_columns() -> list[Column]:
    from custos.remediation.models import ContactAttempt

    return [Column(ContactAttempt._meta.db_table, "contact_sealed", "remediation.attempt.contact")]


def reseal_evidence() -> int:
    """Evidence files (sealed text files under CUSTOS_HOME/evidence) re-sealed under the current key."""
    from custos.remediation.models import Evidence

    k = keys()
    head = f"{PREFIX}{k.current_id}:"
    n = 0
    for ev in Evidence.objects.only("path").iterator():
        p = Path(ev.path)
        try:
            sealed = p.read_text()
        except FileNotFoundError:
            continue
        if sealed.startswith(head):
            continue
        value = k.open_(sealed, "remediation.evidence")
        tmp = p.with_name(p.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(k.seal(value, "remediation.evidence"))
        os.replace(tmp, p)
        n += 1
    return n
