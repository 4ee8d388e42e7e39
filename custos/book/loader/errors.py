"""Problems found in a book: errors (the book is not loaded) and warnings (loaded and reported).

An error that quotes a value of the book keeps it apart from its text: `template` is the message
with `{value!r}` (or `{value}`) where the value goes, `value` the value as written. `message` is the
full text (the command's output and the server-side report IT security reads through an audited
read); people on pages and the API see `shown()`: the same message with the value masked by the
column it came from (custos.domain.masking), rendered when it is displayed.
"""

import re
from dataclasses import asdict, dataclass, replace

from custos.domain import masking
from custos.domain.bookformat import TABLES

MAX_STORED = 1000  # errors/warnings kept on the BookLoad row


@dataclass(frozen=True)
class Issue:
    file: str
    row: int | None  # 1-based as a spreadsheet shows it: the header is row 1; None for the whole file
    column: str | None
    message: str  # the full text, values of the book quoted as written
    code: str = ""  # what kind of problem, e.g. "not_date", "duplicate_key" ("" for file-level ones)
    template: str = ""  # message with {value!r} where `value` is quoted; "" when none is
    value: str | None = None  # the quoted value of the book

    def __str__(self) -> str:
        return f"{self.file}:{self.row if self.row is not None else '-'}:{self.column or '-'}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)

    def at_row(self, row: int | None) -> "Issue":
        return replace(self, row=row)


def literal(text: str) -> str:
    """Text put into a template as it is (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


class Issues:
    """Collects every error and warning of one load; keeps the first MAX_STORED of each, counts all."""

    def __init__(self, limit: int = MAX_STORED):
        self.limit = limit
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.error_count = 0
        self.warning_count = 0

    def error(
        self,
        file: str,
        row: int | None,
        column: str | None,
        message: str,
        code: str = "",
        template: str = "",
        value: str | None = None,
    ) -> None:
        self.error_count += 1
        if len(self.errors) < self.limit:
            self.errors.append(Issue(file, row, column, message, code, template, value))

    def add(self, issue: Issue) -> None:
        """An error found elsewhere (the second validation process)."""
        self.error_count += 1
        if len(self.errors) < self.limit:
            self.errors.append(issue)

    def warning(self, file: str, row: int | None, column: str | None, message: str, code: str = "") -> None:
        self.warning_count += 1
        if len(self.warnings) < self.limit:
            self.warnings.append(Issue(file, row, column, message, code))

    def __bool__(self) -> bool:
        return self.error_count > 0


class BookInvalid(Exception):
    """The book has errors; nothing was written."""

    def __init__(self, issues: Issues):
        self.issues = issues
        super().__init__(f"{issues.error_count} error(s) in the book")


class LoadFailure(Exception):
    """Anything else that stops a load (unreadable source, bad mapping file): a one-line reason."""


# --- what people see ---------------------------------------------------------------------------

# Columns whose values custos shows in clear everywhere (natural keys and references: policy,
# staff, branch and partner numbers, roles, sequence numbers): the value of a duplicate key or an
# unresolved reference is shown as is (a value that is not even of the column's type is masked).
IDENTIFIERS = frozenset(
    {c for t in TABLES.values() for c in t.key} | {c for t in TABLES.values() for c, *_ in t.references}
)
KEY_CODES = frozenset({"duplicate_key", "reference"})
# A run of 9 or more digits (an ID number, a mobile or a fixed line with its area code; an X may end
# an ID number) in any other text: masked as an ID number or, 1 and 10 more digits, a mobile.
_DIGITS = re.compile(r"(?<![0-9])[0-9]{9,}[Xx]?(?![0-9])")
_QUOTED = re.compile(r"'([^']*)'")


def _mask_run(m: re.Match) -> str:
    run = m[0]
    field = "mobile" if len(run) == 11 and run[0] == "1" else "id_no"
    return str(masking.mask_field(field, run))


def scrub(text: str | None) -> str:
    """Text that may hold a value of the book (an old message, a header, an exception's words):
    its long digit runs masked."""
    return _DIGITS.sub(_mask_run, text) if text else (text or "")


def mask_value(column: str | None, value: str, code: str = "") -> str:
    """A value of the book quoted in a message, as people may see it: masked by its column's field
    (custos.domain.masking); a duplicate key or unresolved reference shown as is; anything else with
    its digit runs masked (a shifted file puts ID numbers into date or number columns)."""
    col = (column or "").strip()
    if col in masking.FIELD_MASKS:
        return str(masking.mask_field(col, value))
    if code in KEY_CODES and col and all(c in IDENTIFIERS for c in col.split(",")):
        return value
    return scrub(value)


def shown(issue: dict) -> dict:
    """One stored error or warning (`Issue.as_dict()`, or an older {file,row,column,message}) as
    people may see it: {file,row,column,code,message} with any value of the book masked."""
    if not isinstance(issue, dict):
        return {"file": "", "row": None, "column": None, "code": "", "message": scrub(str(issue))}
    column = issue.get("column")
    value, template = issue.get("value"), issue.get("template")
    if value is not None and template:
        message = template.format(value=mask_value(column, value, issue.get("code") or ""))
    else:  # no value quoted, or stored before values were kept apart
        message = issue.get("message") or ""
        if column in masking.FIELD_MASKS:
            message = _QUOTED.sub(lambda m: repr(mask_value(column, m[1])), message)
        message = scrub(message)
    return {
        "file": scrub(issue.get("file")),
        "row": issue.get("row"),
        "column": scrub(column) if column else column,
        "code": issue.get("code") or "",
        "message": message,
    }
