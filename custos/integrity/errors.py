"""What a read of a row whose integrity tag fails raises."""

from custos.access.readlog import ReadLogUnavailable


class Tampered(ReadLogUnavailable):
    """A customer row (or its history) does not match its integrity tag: it was changed behind
    custos's back. Nothing is returned. A ReadLogUnavailable, so that every interface that fails
    closed on an unrecordable read (503, nothing shown) fails closed on this too."""

    def __init__(self, failures: list):
        self.failures = failures
        super().__init__(
            "integrity check failed: "
            + "; ".join(f.line() for f in failures[:5])
            + (f" (and {len(failures) - 5} more)" if len(failures) > 5 else "")
        )
