"""custos's keyring as the KMS of Parquet modular encryption (PME).

A Spark snapshot's files are written by Arrow C++ (pyarrow) with PME's key tools: each file has its
own random data key, wrapped by a master key and kept in the footer's key metadata. Spark's
executors open them with Parquet's ``PropertiesDrivenCryptoFactory`` and a KMS client that unwraps
the data key: ``custos.spark.KeyringKmsClient`` (custos/spark/java) here, the insurer's own KMS
client in production (``CUSTOS_SPARK_KMS_CLIENT``).

Master key of a snapshot = HMAC-SHA256(keyring data key, "custos spark snapshot"), named
``custos-snapshot-<data key id>``; a wrapped key is base64(nonce | AES-256-GCM(master, nonce, key,
aad = master key name)), the same in Python (here) and Java (KeyringKmsClient).
"""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FACTORY = "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"
KMS_CLIENT = "custos.spark.KeyringKmsClient"
KEYS_PROPERTY = "custos.kms.secret.keys"  # "secret" matches spark.redaction.regex: never shown


def kms_client_class() -> str:
    """The Java KMS client Spark's executors use (the insurer's own in production)."""
    return os.environ.get("CUSTOS_SPARK_KMS_CLIENT", KMS_CLIENT)


def master_key_id(data_key_id: str) -> str:
    return f"custos-snapshot-{data_key_id}"


def master_key(data_key_id: str) -> bytes:
    from custos.crypto.fields import keys

    k = keys()
    if data_key_id not in k.data_keys:
        k = keys(reload=True)
    if data_key_id not in k.data_keys:
        raise LookupError(f"snapshot key {data_key_id} is not in the keyring (retired?): load the book again")
    return hmac.digest(k.data_keys[data_key_id], b"custos spark snapshot", "sha256")


def wrap(master: bytes, key: bytes, master_id: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(master).encrypt(nonce, key, master_id.encode())).decode()


def unwrap(master: bytes, wrapped: str, master_id: str) -> bytes:
    raw = base64.b64decode(wrapped)
    return AESGCM(master).decrypt(raw[:12], raw[12:], master_id.encode())


def read_options(data_key_id: str) -> dict[str, str]:
    """Options of a Spark read of an encrypted snapshot (they reach the executors' Hadoop
    configuration of that read only). With custos's keyring client the master key travels with
    them (redacted from the UI and logs; encrypted on the wire when spark.network.crypto is on);
    with the insurer's KMS client only its name does."""
    opts = {
        # a KMS client is cached per access token: one per master key, so a new key is never
        # asked of a client made before it existed
        "parquet.encryption.key.access.token": master_key_id(data_key_id),
    }
    if kms_client_class() == KMS_CLIENT:
        mid = master_key_id(data_key_id)
        opts[KEYS_PROPERTY] = f"{mid}:{base64.b64encode(master_key(data_key_id)).decode()}"
    return opts


def encryption_properties(data_key_id: str):
    """pyarrow FileEncryptionProperties: uniform AES-GCM encryption (footer and every column),
    a 256-bit data key per file wrapped by the snapshot's master key."""
    import pyarrow.parquet.encryption as pe

    mid = master_key_id(data_key_id)
    master = master_key(data_key_id)

    class _KeyringClient(pe.KmsClient):
        def __init__(self, config):
            super().__init__()

        def wrap_key(self, key_bytes, master_key_identifier):
            if master_key_identifier != mid:
                raise LookupError(f"unknown master key {master_key_identifier}")
            return wrap(master, key_bytes, master_key_identifier)

        def unwrap_key(self, wrapped_key, master_key_identifier):
            if master_key_identifier != mid:
                raise LookupError(f"unknown master key {master_key_identifier}")
            return unwrap(master, wrapped_key, master_key_identifier)

    factory = pe.CryptoFactory(lambda config: _KeyringClient(config))
    return factory.file_encryption_properties(
        pe.KmsConnectionConfig(),
        pe.EncryptionConfiguration(
            footer_key=mid,
            uniform_encryption=True,
            double_wrapping=False,
            plaintext_footer=False,
            encryption_algorithm="AES_GCM_V1",
            data_key_length_bits=256,
            internal_key_material=True,
        ),
    )
