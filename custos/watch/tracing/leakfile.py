"""Reading a leaked file: CSV (UTF-8 or GB18030) or XLSX, any column names and order, dirty values.

`read(path)` finds the header row (or, without one, guesses each column from its values), keeps the
columns that identify a person — name, ID number, mobile, policy number, birth date — and turns each
row into a `LeakRow` of normalised values and masks: 张*伟 → name pattern ``张_伟``, 138****5678 →
mobile pattern ``138____5678``, 110101********1234 → ID pattern. Rows are read through
`custos.extraction.leaks.iter_table` (the extraction trace's reader: encodings, all XLSX sheets).

A file custos cannot read raises `LeakFileError` naming the file, and where it applies the row and
the column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from custos.domain.normalize import halfwidth

FIELDS = ("name", "id_no", "mobile", "policy_no", "birth_date")
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".txt")

# Header words by field, most specific first; a header matches a field when, normalised (lower
# case, no blanks or punctuation), it equals one of them or contains one of the longer ones.
HEADERS: dict[str, tuple[str, ...]] = {
    "id_no": (
        "身份证号码", "身份证号", "身份证", "证件号码", "证件号", "证件编号", "证件", "公民身份号码",
        "idno", "idnumber", "idcard", "idcardno", "identity", "certno", "id",
    ),
    "mobile": (
        "手机号码", "手机号", "手机", "移动电话", "联系电话", "联系手机", "联系方式", "电话号码", "电话",
        "mobile", "mobileno", "cellphone", "cell", "phone", "tel", "telephone",
    ),
    "name": (
        "客户姓名", "投保人姓名", "被保险人姓名", "被保人姓名", "姓名", "名字", "客户名称", "客户名",
        "投保人", "被保险人", "联系人", "客户", "name", "fullname", "customername", "customer",
    ),
    "policy_no": ("保单号码", "保单号", "保险单号", "合同号", "保单", "policyno", "policy", "contractno"),
    "birth_date": ("出生日期", "出生年月", "生日", "birthdate", "birthday", "dob"),
}  # fmt: skip
# a header containing one of these is never the mobile (a fixed line, a fax, an emergency contact's)
NOT_MOBILE = ("固定", "座机", "固话", "传真", "紧急", "fax", "landline")

MASK_CHARS = "*＊●•○◦■□?？#×"
_MASK_RE = re.compile(f"[{re.escape(MASK_CHARS)}]")
_HAN = re.compile(r"^[\u3400-\u9fff·]+$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$|^(\d{4})(\d{2})(\d{2})$")
HEADER_SCAN = 10  # rows looked at for a header
SNIFF_ROWS = 200  # rows looked at to guess a column without a header


class LeakFileError(ValueError):
    """A leaked file that cannot be traced; the message names the file, row and column."""


@dataclass
class LeakRow:
    row: int  # 1-based row of the file (the header is row 1 when there is one)
    name: str = ""  # full name, or ""
    name_like: str = ""  # SQL LIKE pattern of a masked name (张_伟), or ""
    id_no: str = ""  # a full 18-character ID, upper case
    id_like: str = ""  # LIKE pattern of a masked ID (110101________1234)
    mobile: str = ""  # 11 digits
    mobile_like: str = ""  # 138____5678
    policy_no: str = ""
    birth_date: str = ""  # YYYY-MM-DD

    def empty(self) -> bool:
        return not (
            self.name or self.name_like or self.id_no or self.id_like or self.mobile or self.mobile_like
        )

    def visible_digits(self) -> int:
        return sum(c.isdigit() for c in self.id_like) + sum(c.isdigit() for c in self.mobile_like)


# --- values ------------------------------------------------------------------------------------------


def _squash(value: str) -> str:
    return re.sub(r"[\s\-－—_()（）+]", "", halfwidth(value or "").strip().strip("'\""))


def norm_name(value: str) -> tuple[str, str]:
    """(full name, '') or ('', LIKE pattern) or ('', '') for something that is not a name."""
    v = re.sub(r"\s+", "", halfwidth(value or "")).replace("•", "·").replace("・", "·")
    if not v or len(v) > 12:
        return "", ""
    if _MASK_RE.search(v):
        visible = _MASK_RE.sub("", v)
        if not visible or not _HAN.match(visible):
            return "", ""
        return "", _MASK_RE.sub("_", v.replace("%", "").replace("_", ""))
    if _HAN.match(v) and len(v) >= 2:
        return v, ""
    return "", ""


def _masked_digits(v: str, length: int, x_last: bool) -> tuple[str, str]:
    """A digit string of `length`, maybe masked: (value, '') when whole, ('', LIKE pattern) when at
    least 5 characters are visible, ('', '') otherwise. Runs of two or more x are masks too
    (110101xxxxxxxx1234); a single final X of an ID is its check digit."""
    if len(v) != length:
        return "", ""
    u = v.upper()
    masked = [c in MASK_CHARS for c in u]
    for m in re.finditer(r"X{2,}", u):
        for i in range(m.start(), m.end()):
            masked[i] = True
    for i, c in enumerate(u):
        if not masked[i] and not (c.isdigit() or (c == "X" and x_last and i == length - 1)):
            return "", ""
    if not any(masked):
        return u, ""
    pattern = "".join("_" if masked[i] else c for i, c in enumerate(u))
    if sum(c != "_" for c in pattern) < 5:
        return "", ""
    return "", pattern


def norm_id(value: str) -> tuple[str, str]:
    v = _squash(value)
    return _masked_digits(v, 18, True)


def norm_mobile(value: str) -> tuple[str, str]:
    v = _squash(value)
    if v.startswith("86") and len(v) == 13:
        v = v[2:]
    if not v.startswith("1") and not _MASK_RE.match(v[:1]):
        return "", ""
    full, like = _masked_digits(v, 11, False)
    return full, like


def norm_date(value: str) -> str:
    v = halfwidth(value or "").strip()[:10]
    m = _DATE.match(v)
    if not m:
        return ""
    y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
    return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}"


# --- columns -----------------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    return re.sub(r"[\s_\-:：/\\.()（）\[\]【】*]", "", halfwidth(text or "").lower())


def header_field(text: str) -> str | None:
    """The field a column header names, or None: 客户姓名 → name, 联系电话 → mobile, 证件号码 → id_no."""
    key = _header_key(text)
    if not key:
        return None
    for field_, words in HEADERS.items():
        if key in words:
            return None if field_ == "mobile" and any(w in key for w in NOT_MOBILE) else field_
    for field_, words in HEADERS.items():
        for w in words:
            if len(w) >= 2 and not w.isascii() and w in key:
                if field_ == "mobile" and any(n in key for n in NOT_MOBILE):
                    break
                return field_
    return None


def detect_header(rows: list[list[str]]) -> tuple[int, dict[int, str]] | None:
    """(index of the header row, column -> field) when one of the first rows names two or more
    fields (or one, when that row holds no value of a person), else None."""
    for i, row in enumerate(rows[:HEADER_SCAN]):
        cols: dict[int, str] = {}
        for j, cell in enumerate(row):
            f = header_field(cell)
            if f and f not in cols.values():
                cols[j] = f
        looks_like_data = any(norm_id(c)[0] or norm_mobile(c)[0] for c in row)
        if len(cols) >= 2 or (cols and not looks_like_data):
            return i, cols
    return None


def sniff_columns(rows: list[list[str]]) -> dict[int, str]:
    """column -> field guessed from the values of a file without a header row."""
    width = max((len(r) for r in rows), default=0)
    scores: dict[str, list[tuple[float, int]]] = {f: [] for f in ("id_no", "mobile", "name", "birth_date")}
    for j in range(width):
        cells = [r[j] for r in rows if j < len(r) and r[j] and r[j].strip()]
        if not cells:
            continue
        n = len(cells)
        scores["id_no"].append((sum(any(norm_id(c)) for c in cells) / n, j))
        scores["mobile"].append((sum(any(norm_mobile(c)) for c in cells) / n, j))
        scores["name"].append((sum(any(norm_name(c)) for c in cells) / n, j))
        scores["birth_date"].append((sum(bool(norm_date(c)) for c in cells) / n, j))
    out: dict[int, str] = {}
    for f in ("id_no", "mobile", "birth_date", "name"):
        for share, j in sorted(scores[f], reverse=True):
            if share > 0.5 and j not in out:
                out[j] = f
                break
    return out


def _row(cells: list[str], cols: dict[int, str], number: int) -> LeakRow:
    r = LeakRow(row=number)
    for j, f in cols.items():
        cell = cells[j] if j < len(cells) else ""
        if not cell or not cell.strip():
            continue
        if f == "name":
            r.name, r.name_like = norm_name(cell)
        elif f == "id_no":
            r.id_no, r.id_like = norm_id(cell)
        elif f == "mobile":
            r.mobile, r.mobile_like = norm_mobile(cell)
        elif f == "policy_no":
            r.policy_no = halfwidth(cell).strip()[:64]
        elif f == "birth_date":
            r.birth_date = norm_date(cell)
    return r


@dataclass
class LeakFile:
    path: Path
    rows: int  # data rows read (the header not counted)
    columns: dict[str, str]  # field -> the column's header (or "#<n>" without a header)
    records: list[LeakRow]  # rows that carry something of a person
    raw: list[list[str]]  # every data row as read (for the canary scan)


def _iter(path: Path) -> Iterator[list[str]]:
    from custos.book.loader.encoding import EncodingRejected
    from custos.extraction.leaks import iter_table

    try:
        yield from iter_table(path)
    except EncodingRejected as exc:
        raise LeakFileError(
            _("%(f)s：无法识别文件编码（应为 UTF-8 或 GB18030）：%(e)s") % {"f": path.name, "e": exc}
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise LeakFileError(_("%(f)s：无法读取文件：%(e)s") % {"f": path.name, "e": exc}) from exc
    except Exception as exc:  # openpyxl raises its own (BadZipFile, InvalidFileException …)
        raise LeakFileError(
            _("%(f)s：无法读取文件：%(e)s") % {"f": path.name, "e": type(exc).__name__}
        ) from exc


def read(path: Path) -> LeakFile:
    """Read a leaked file; LeakFileError when it cannot be traced."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise LeakFileError(_("%(f)s：只能追查 CSV 或 XLSX 文件。") % {"f": path.name})
    if not path.is_file():
        raise LeakFileError(_("%(f)s：文件不存在。") % {"f": path.name})
    raw = list(_iter(path))
    if not raw:
        raise LeakFileError(_("%(f)s：文件为空。") % {"f": path.name})
    for i, r in enumerate(raw[:HEADER_SCAN]):
        for j, c in enumerate(r):
            if "\x00" in (c or ""):
                raise LeakFileError(
                    _("%(f)s 第 %(r)s 行第 %(c)s 列：含有二进制内容，不是文本表格。")
                    % {"f": path.name, "r": i + 1, "c": j + 1}
                )
    header = detect_header(raw)
    if header is not None:
        h, cols = header
        data = raw[h + 1 :]
        first = h + 2
        names = {f: (raw[h][j] or "").strip() for j, f in cols.items()}
    else:
        data, first = raw, 1
        cols = sniff_columns(raw[:SNIFF_ROWS])
        names = {f: f"#{j + 1}" for j, f in cols.items()}
    if not ({"name", "id_no", "mobile"} & set(cols.values())):
        raise LeakFileError(
            _("%(f)s 第 %(r)s 行：找不到可识别客户的列（姓名、证件号码或手机号）。")
            % {"f": path.name, "r": first - 1 or 1}
        )
    records = []
    for k, cells in enumerate(data):
        r = _row(cells, cols, first + k)
        if not r.empty():
            records.append(r)
    return LeakFile(path=path, rows=len(data), columns=names, records=records, raw=data)
