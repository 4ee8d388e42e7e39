"""Book values sealed by hand outside EncryptedTextField, registered for key rotation."""

from custos.crypto.registry import Column


def sealed_columns() -> list[Column]:
    from custos.book.models import SEALED_PARTY_FIELDS, PartyHistory

    # a history row's values are the party column's ciphertext, sealed for that column
    return [
        Column(PartyHistory._meta.db_table, c, "book_party.{}", True, "field", SEALED_PARTY_FIELDS)
        for c in ("old_value", "new_value")
    ]
