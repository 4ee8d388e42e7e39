"""Cleaning and typing of single values, driven by custos.domain.bookformat.

Text is stripped of surrounding blanks and full-width digits/letters become ASCII (nothing else:
CJK punctuation such as · stays). Values starting with = + - @ are plain text; nothing is ever
evaluated. Converters take the cleaned text and return the stored value or raise Bad.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from custos.domain.bookformat import LONG_TERM

from .errors import literal

SHANGHAI = ZoneInfo("Asia/Shanghai")
FULLWIDTH = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},
    **{0xFF21 + i: 0x41 + i for i in range(26)},
    **{0xFF41 + i: 0x61 + i for i in range(26)},
}
# C0 controls (tab, CR, LF included), DEL, C1 controls, and the Unicode non-characters U+FFFE/FFFF.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffe\uffff]")
# A row that needs the slow path: one character-class search (controls but the \x1f separator,
# full-width digits/letters, blanks other than the ASCII space), then plain substring tests for an
# ASCII space at the start or end of a value. See validate._read_rows.
DIRTY = re.compile(
    "[\x00-\x1e\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    "\ufeff\ufffe\uffff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
)


def needs_care(joined: str) -> bool:
    """True when the \x1f-joined row has a character or a blank the fast path does not handle."""
    if DIRTY.search(joined) is not None:
        return True
    return " \x1f" in joined or "\x1f " in joined or joined[:1] == " " or joined[-1:] == " "


_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_DATE8 = re.compile(r"(\d{4})(\d{2})(\d{2})")
_INT = re.compile(r"[+-]?\d{1,18}")
_DEC = re.compile(r"[+-]?\d{1,12}(?:\.\d+)?")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
EXCEL_EPOCH = dt.date(1899, 12, 30)
CACHE_MAX = 200_000


class Bad(Exception):
    """A value that cannot be read: `template` quotes it as `{value!r}` or `{value}` (so a page can
    show it masked, custos.book.loader.errors.shown), `code` names the problem."""

    def __init__(self, template: str, value, code: str):
        self.template, self.value, self.code = template, str(value), code
        super().__init__(template.format(value=self.value))

    @property
    def parts(self) -> tuple[str, str, str, str]:
        """(message, code, template, value): the arguments of Issues.error after the cell."""
        return str(self), self.code, self.template, self.value


def clean_text(v: str) -> str:
    s = v.strip()
    if not s.isascii():
        s = s.translate(FULLWIDTH).strip()
    return s


def _date_from_text(s: str) -> str:
    m = _DATE.fullmatch(s) or _DATE8.fullmatch(s)
    if not m:
        raise Bad("{value!r} is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)", s[:40], "not_date")
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise Bad("{value!r} is not a valid date", s, "invalid_date")


class DateConv:
    """Text or native date -> 'YYYY-MM-DD' (cached: a book has few distinct dates)."""

    def __init__(self, long_term: bool = False):
        self.cache: dict[str, str] = {}
        self.long_term = long_term

    def __call__(self, s: str) -> str:
        out = self.cache.get(s)
        if out is None:
            if self.long_term and s in LONG_TERM:
                out = "9999-12-31"
            else:
                out = _date_from_text(s)
            if len(self.cache) < CACHE_MAX:
                self.cache[s] = out
        return out

    def native(self, v) -> str:
        if isinstance(v, dt.datetime):
            return v.date().isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, int | float) and not isinstance(v, bool) and len(str(int(v))) != 8:
            if 1 <= v < 2958466:  # an Excel serial day number
                return (EXCEL_EPOCH + dt.timedelta(days=int(v))).isoformat()
        raise TypeError


class TimestampConv:
    """ISO 8601 -> aware datetime (Asia/Shanghai when no offset); with db_text, the text the
    database takes: naive UTC 'YYYY-MM-DD HH:MM:SS[.ffffff]' on SQLite (as Django stores it),
    ISO with +00:00 on PostgreSQL."""

    def __init__(self, db_text: bool = False):
        self.db_text = db_text
        self.sqlite = False
        if db_text:
            from django.db import connection

            self.sqlite = connection.vendor == "sqlite"

    def _out(self, d: dt.datetime):
        if not self.db_text:
            return d
        u = d.astimezone(dt.UTC)
        return u.replace(tzinfo=None).isoformat(" ") if self.sqlite else u.isoformat(" ")

    def __call__(self, s: str):
        return self._out(self._parse(s))

    def _parse(self, s: str) -> dt.datetime:
        t = s.replace("/", "-")
        try:
            if len(t) == 8 and t.isdigit():
                d = dt.datetime.strptime(t, "%Y%m%d")
            else:
                d = dt.datetime.fromisoformat(t)
        except ValueError:
            raise Bad("{value!r} is not an ISO 8601 timestamp", s[:40], "not_timestamp")
        return d.replace(tzinfo=SHANGHAI) if d.tzinfo is None else d

    def native(self, v):
        if isinstance(v, dt.datetime):
            return self._out(v.replace(tzinfo=SHANGHAI) if v.tzinfo is None else v)
        if isinstance(v, dt.date):
            return self._out(dt.datetime(v.year, v.month, v.day, tzinfo=SHANGHAI))
        raise TypeError


class IntConv:
    def __call__(self, s: str) -> int:
        if not _INT.fullmatch(s):
            raise Bad("{value!r} is not a whole number", s[:40], "not_int")
        n = int(s)
        if not INT_MIN <= n <= INT_MAX:
            raise Bad("{value} is out of range", n, "out_of_range")
        return n

    def native(self, v) -> int:
        if isinstance(v, bool):
            raise TypeError
        if isinstance(v, int):
            return self(str(v))
        if isinstance(v, float | Decimal) and v == int(v):
            return self(str(int(v)))
        raise TypeError


class DecimalConv:
    """Money with at most 2 decimals, kept as canonical text ('1234.5' -> '1234.50')."""

    def __call__(self, s: str) -> str:
        if not _DEC.fullmatch(s):
            raise Bad("{value!r} is not a number", s[:40], "not_number")
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise Bad("{value!r} is not a number", s[:40], "not_number")
        if "." in s and len(s) - s.index(".") - 1 > 2:  # 1.500 too: money is written to the fen
            raise Bad("{value} has more than 2 decimal places", s, "decimals")
        return str(d.quantize(Decimal("0.01")))

    def native(self, v) -> str:
        if isinstance(v, bool):
            raise TypeError
        if isinstance(v, float):
            r = round(v, 2)
            if abs(r - v) > 1e-7:
                raise Bad("{value} has more than 2 decimal places", v, "decimals")
            return self(f"{r:.2f}")
        if isinstance(v, int | Decimal):
            return self(str(v))
        raise TypeError


_MONTH = re.compile(r"(\d{4})-(\d{2})")


class MonthConv:
    """A settlement month, YYYY-MM (a date or timestamp from a spreadsheet cell: its month)."""

    def __call__(self, s: str) -> str:
        m = _MONTH.fullmatch(s)
        if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1900:
            raise Bad("{value!r} is not a month (YYYY-MM)", s[:40], "not_month")
        return s

    def native(self, v) -> str:
        if isinstance(v, dt.date | dt.datetime):
            return f"{v.year:04d}-{v.month:02d}"
        raise TypeError


class CodeConv:
    def __init__(self, kind: str, lookup, extra: dict[str, str] | None):
        self.kind = kind
        self.lookup = {**lookup, **(extra or {})}

    def __call__(self, s: str) -> str:
        code = self.lookup.get(s)
        if code is None:
            raise Bad("{value!r} is not a " + literal(self.kind) + " code", s[:40], "not_code")
        return code
