"""Sealing spooled book rows (custos.crypto): personal values encrypted, blind indexes appended.

Used by the validator while it spools (so the work is shared by its two processes) and by the
writer for spools that were not sealed."""

from custos.crypto.fields import BlindIndexField, EncryptedTextField, keys


def crypto_columns(model) -> tuple[dict[str, EncryptedTextField], list[BlindIndexField]]:
    fields = model._meta.concrete_fields
    sealed = {f.column: f for f in fields if isinstance(f, EncryptedTextField)}
    return sealed, [f for f in fields if isinstance(f, BlindIndexField)]


def row_sealer(model, names: list[str]):
    """A function sealing a batch of spooled rows in place of their personal values and appending
    their blind indexes (None when the table has nothing to seal)."""
    sealed, bidx = crypto_columns(model)
    if not sealed:
        return None
    k = keys()
    at = [(i, k.sealer(sealed[c].ad)) for i, c in enumerate(names) if c in sealed]
    idx = [(names.index(f.source), k.blind_indexer(f.kind)) for f in bidx]

    def seal_batch(batch: list) -> list:
        if not batch:
            return batch
        cols = list(zip(*batch, strict=True))  # column-wise: one map() per sealed column
        extra = [list(map(f, cols[i])) for i, f in idx]  # blind indexes of the plaintext
        for i, f in at:
            cols[i] = map(f, cols[i])  # f leaves empty values as they are
        return list(zip(*cols, *extra, strict=True))

    return seal_batch
