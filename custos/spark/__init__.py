"""The bulk work on a Spark cluster: a standalone cluster for development and tests
(``custos spark up/down``), the session every Spark engine uses (``CUSTOS_SPARK_MASTER``), and the
book's snapshot published where every executor reads it, encrypted (Parquet modular encryption,
custos's keyring as the KMS). See docs/operations.md ("Spark cluster") and docs/security.md.
"""
