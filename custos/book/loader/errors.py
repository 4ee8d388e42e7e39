"""Problems found in a book: errors (the book is not loaded) and warnings (loaded and reported)."""

from dataclasses import asdict, dataclass

MAX_STORED = 1000  # errors/warnings kept on the BookLoad row


@dataclass(frozen=True)
class Issue:
    file: str
    row: int | None  # 1-based as a spreadsheet shows it: the header is row 1; None for the whole file
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row if self.row is not None else '-'}:{self.column or '-'}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


class Issues:
    """Collects every error and warning of one load; keeps the first MAX_STORED of each, counts all."""

    def __init__(self, limit: int = MAX_STORED):
        self.limit = limit
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.error_count = 0
        self.warning_count = 0

    def error(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.limit:
            self.errors.append(Issue(file, row, column, message))

    def warning(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.limit:
            self.warnings.append(Issue(file, row, column, message))

    def __bool__(self) -> bool:
        return self.error_count > 0


class BookInvalid(Exception):
    """The book has errors; nothing was written."""

    def __init__(self, issues: Issues):
        self.issues = issues
        super().__init__(f"{issues.error_count} error(s) in the book")


class LoadFailure(Exception):
    """Anything else that stops a load (unreadable source, bad mapping file): a one-line reason."""
