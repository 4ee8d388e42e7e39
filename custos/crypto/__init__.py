"""Encryption at rest of personal data: AES-256-GCM field encryption with versioned keys from the
keyring, and keyed blind indexes (HMAC-SHA256) for equality search over encrypted values."""
