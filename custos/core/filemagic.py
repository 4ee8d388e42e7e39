"""The first bytes of the files custos seals itself, shared by their writer and the key rotation
(which must know which data key a file on disk still uses)."""

# An extraction file (custos.extraction): magic, one byte of key-id length, the key id, nonce, ciphertext.
EXTRACTION_FILE = b"CXF1"


def extraction_file_key_id(head: bytes) -> str | None:
    """The data key id an extraction file was sealed with, from its first bytes (64 are enough)."""
    if not head.startswith(EXTRACTION_FILE) or len(head) <= len(EXTRACTION_FILE):
        return None
    n = head[len(EXTRACTION_FILE)]
    return head[len(EXTRACTION_FILE) + 1 : len(EXTRACTION_FILE) + 1 + n].decode()
