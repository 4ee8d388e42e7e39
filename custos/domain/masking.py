"""Masking of personal data for display (脱敏). Pure functions: no Django, no I/O beyond the pinned
reference tables of custos.domain.refdata (read once).

Every function accepts any string (or None) and returns a string; an empty or missing value stays
empty; the same value always gives the same mask. What is kept is enough to recognise a record on
the telephone, never enough to reuse it. The rule: **at least half of the letters and digits of a
value are hidden**, not counting a leading part that is public or shared by very many people — an address's
administrative prefix (province, city, county: a region), a fixed line's area code (a city), a
mobile's three-digit network prefix, a name's first character (the surname) and an e-mail's domain
(the mail provider). A house number is never shown: nothing of an address after its administrative
prefix is. docs/security.md has the table of forms.

- name      张*伟, 张* (two characters), * (one), 司** (司马光: compound surname, the given name hidden),
            欧**娜, 买*·*力 (dotted names), J*** S**** (Latin names: first letter of each word)
- ID        4401**********1234 (18 characters: first 4 and last 4); shorter documents keep their
            letter prefix (H, M, E, USA …) and the last digits, never more than half: M*****075
- mobile    138****5678
- fixed     020-****5678, 0755-****567 (area code and at most half of the local number)
- address   广东省广州市天河区**** (the administrative units GB2260 knows, up to the county)
- email     a***@example.com
- dates     1990-**-** (birth date, document expiry: the year only)
- postcode  51**** (the first two digits: the province)
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

from custos.domain import refdata
from custos.domain.normalize import halfwidth

MASK = "*"
HIDDEN = MASK * 4  # what stands for an address's detail, whatever its length

_DOTS = "·•・.．‧"

# Two-character (compound) surnames: in a three-character name the third character is the whole
# given name, so 司马光 shows as 司** rather than 司*光.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 闻人 独孤 南宫 "
    "西门 端木 万俟 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 赫连 呼延 第五 拓跋 东郭 百里 "
    "司空 左丘 梁丘 公羊 谷梁 段干 乐正 漆雕 壤驷 巫马 公西 颛孙 子车 亓官 鲜于 闾丘 东门 "
    "欧陽 司馬 諸葛 長孫 軒轅 鍾離 獨孤".split()
)


def _shown(text: str) -> int:
    """Characters of a mask that show something: all but the stars, blanks and punctuation."""
    return sum(1 for c in text if c != MASK and c.isalnum())


def _ends(value: str, head: int, tail: int) -> str:
    """Keep `head` characters at the start and `tail` at the end, star the rest, and shorten both
    (the tail first) until at most half of the value's letters and digits show."""
    n = len(value)
    limit = _shown(value) // 2
    head, tail = max(head, 0), max(tail, 0)
    while head + tail > 0:
        if head + tail <= n and _shown(value[:head]) + _shown(value[n - tail :]) <= limit:
            break
        if tail > 0 and (tail >= head or head == 0):
            tail -= 1
        else:
            head -= 1
    return value[:head] + MASK * (n - head - tail) + value[n - tail :]


def _hide(value: str) -> str:
    """A value of no known shape: nothing of it is shown (one star a character, at most eight)."""
    return MASK * min(len(value), 8)


def _digits(value: str, keep_max: int = 4) -> str:
    """A run of digits: the last digits, never more than half (nothing of four or fewer)."""
    n = len(value)
    if n <= 4:
        return MASK * n
    keep = min(keep_max, n // 2)
    return MASK * (n - keep) + value[-keep:]


# --- names -----------------------------------------------------------------------------------------


def _mask_name_word(word: str) -> str:
    """One run of characters: the first and the last kept, the middle starred; two keep the first;
    one keeps nothing; a compound surname with a one-character given name keeps the first."""
    n = len(word)
    if n <= 1:
        return MASK * n
    if n == 2:
        return word[0] + MASK
    if n == 3 and word[:2] in COMPOUND_SURNAMES:
        return word[0] + MASK * 2
    return word[0] + MASK * (n - 2) + word[-1]


def name(value: str | None) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, 张 -> *, 司马光 -> 司**, 买买提·艾力 -> 买*·*力, John Smith -> J*** S****."""
    if not value:
        return ""
    value = " ".join(value.split())
    if not value:
        return ""
    if any(d in value for d in _DOTS):
        # 买买提·艾力 -> 买*·*力: the first character of the first word and the last of the last, each
        # only when its word has more than one; a star for everything else.
        parts = re.split(f"([{re.escape(_DOTS)}])", value)
        last = len(parts) - 1
        out = []
        for i, part in enumerate(parts):
            word = part.strip()
            if i % 2:  # separator
                out.append(part)
            elif i == 0 and len(word) >= 2:
                out.append(word[0] + MASK)
            elif i == last and len(word) >= 2:
                out.append(MASK + word[-1])
            else:
                out.append(MASK)
        return "".join(out)
    if value.isascii() and " " in value:
        return " ".join(w[0] + MASK * (len(w) - 1) if len(w) > 1 else MASK for w in value.split())
    return _mask_name_word(value.replace(" ", ""))


# --- identity documents ----------------------------------------------------------------------------

_DOC_PREFIX = re.compile(r"[^\W\d_]+")  # letters (Latin or Han) before the number: H, M, E, EA, USA, 南字第


def id_no(value: str | None) -> str:
    """Any identity document (every id_type), by the number's shape:

    440106199001011234 -> 4401**********1234 (16 or more characters: first 4 and last 4);
    M11216075 -> M*****075, H1234567801 -> H******7801, USA123456789012 -> USA********9012 (the
    letter prefix, which names the document, and the last digits); 12345678 -> ****5678; seven or
    fewer -> the last 2; five or fewer -> nothing. Never more than half of the characters."""
    if not value:
        return ""
    v = "".join(halfwidth(value).split())
    n = len(v)
    if n == 0:
        return ""
    if n <= 5:
        return MASK * n
    if n <= 7:
        return _ends(v, 0, 2)
    budget = n // 2
    if n >= 16:
        head = 4
    else:
        m = _DOC_PREFIX.match(v)
        head = min(len(m.group()), 3, budget // 2) if m else max(0, min(4, budget - 4))
    return _ends(v, head, min(4, budget - head))


# --- telephones ------------------------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"[0-9\s+\-()（）.]+")
_EXTENSION = re.compile(r"转|分机|ext|[xX#,，;；/、]")  # what follows is an extension or another number


def _phone_digits(value: str) -> tuple[str, list[int]] | None:
    """The digits of a value written as a telephone number and where its groups of digits end (None
    when it holds anything else). An extension or a second number is dropped; so is a +86 / 0086
    country prefix (a fixed line then gets its trunk 0 back); another country's number keeps its +
    so that it is masked as a plain number."""
    v = _EXTENSION.split(halfwidth(value).strip(), maxsplit=1)[0].strip()
    if not _PHONE_CHARS.fullmatch(v):
        return None
    groups = re.findall(r"[0-9]+", v)
    digits = "".join(groups)
    ends = [sum(map(len, groups[: i + 1])) for i in range(len(groups))]
    shift = 0
    intl = v.startswith("+") or digits.startswith("0086")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and (intl or len(digits) - len(prefix) == 11):
            digits, shift = digits[len(prefix) :], -len(prefix)
            if not digits.startswith(("0", "1")):
                digits, shift = "0" + digits, shift + 1
            break
    else:
        if v.startswith("+") and digits:
            digits, shift = "+" + digits, 1
    return digits, [e + shift for e in ends if e + shift > 0]


def _is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1"


def _area_code(digits: str) -> int:
    """Length of the area code (with its 0) at the start of a fixed-line number, 0 when none."""
    if not digits.startswith("0") or len(digits) < 9:
        return 0
    codes = refdata.area_codes()
    if digits[1:3] in codes:
        return 3
    if digits[1:4] in codes:
        return 4
    return 0


def mobile(value: str | None) -> str:
    """13812345678 -> 138****5678 (a +86 / 0086 prefix is dropped); anything else in a mobile field
    is masked as phone() masks it: a fixed line or a short number never shows more than half."""
    if not value:
        return ""
    parsed = _phone_digits(value)
    if parsed and _is_mobile(parsed[0]):
        return parsed[0][:3] + MASK * 4 + parsed[0][-4:]
    return phone(value)


def phone(value: str | None) -> str:
    """Fixed line: 020-12345678 and 02012345678 -> 020-****5678, 0755-1234567 -> 0755-****567 (the
    area code, at most half of the local number, an extension dropped); a mobile -> 138****5678; a
    number without an area code -> its last digits, never more than half; text -> stars."""
    if not value:
        return ""
    v = value.strip()
    if not v:
        return ""
    parsed = _phone_digits(v)
    if not parsed or not parsed[0]:
        return _hide(v)
    digits, ends = parsed
    if digits.startswith("+"):  # another country's number
        return _digits(digits[1:])
    if _is_mobile(digits):
        return digits[:3] + MASK * 4 + digits[-4:]
    area = _area_code(digits)
    if area:
        # the local number: 7 or 8 digits, ending where a group of digits ends when one does there
        end = next((e for e in ends if area + 7 <= e <= area + 8), area + 8)
        return digits[:area] + "-" + _digits(digits[area:end])
    return _digits(digits)


def contact(value: str | None) -> str:
    """A contact of unknown kind (a visit's number, address or account): masked by what it looks like."""
    if not value:
        return ""
    v = value.strip()
    if not v:
        return ""
    if _phone_digits(v) is not None:
        return phone(v)
    if "@" in v:
        return email(v)
    return address(v)


# --- addresses -------------------------------------------------------------------------------------


@cache
def _admin_units() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """GB2260 names (current and retired) -> the levels each names (0 province, 1 prefecture,
    2 county); and first character -> the lengths of the names starting with it, longest first.
    Only names of units: 市辖区, 省直辖县级行政单位 and the like are left out."""
    levels: dict[str, set[int]] = {}
    for code, row in refdata.gb2260().items():
        level = 0 if code.endswith("0000") else 1 if code.endswith("00") else 2
        for raw in row["name"].split(","):
            unit = re.sub(r"^\[[^\]]*\]", "", raw).strip()
            if len(unit) >= 2 and unit[-1] in "省市区县旗州盟區" and "直辖" not in unit and unit != "市辖区":
                levels.setdefault(unit, set()).add(level)
    sizes: dict[str, set[int]] = {}
    for unit in levels:
        sizes.setdefault(unit[0], set()).add(len(unit))
    return (
        {k: tuple(sorted(v)) for k, v in levels.items()},
        {k: tuple(sorted(v, reverse=True)) for k, v in sizes.items()},
    )


def _unit_at(value: str, pos: int, above: int) -> tuple[int, int] | None:
    """The longest GB2260 unit name at `pos` of a level below `above` (a larger number): its length
    and level."""
    if pos >= len(value):
        return None
    units, sizes = _admin_units()
    for size in sizes.get(value[pos], ()):
        for level in units.get(value[pos : pos + size], ()):
            if level > above:
                return size, level
    return None


def _admin_prefix(value: str) -> int:
    """Length of the address's leading administrative units: province, prefecture, county, each a
    name GB2260 knows, in that order (any may be missing), optionally after 中国. A province's short
    name (广东, 内蒙古) counts only when a unit follows it. 0 when the address starts otherwise."""
    pos, level, end = 0, -1, 0
    for country in ("中华人民共和国", "中国"):
        if value.startswith(country):
            pos = len(country)
            break
    while level < 2:
        while pos < len(value) and value[pos] in " \u3000,，":
            pos += 1
        found = _unit_at(value, pos, level)
        if found is None and level == -1:
            short = next((s for s in refdata.province_names() if value.startswith(s, pos)), None)
            if short:
                pos, level = pos + len(short), 0
                continue
        if found is None:
            break
        pos += found[0]
        level = found[1]
        end = pos
    return end


def address(value: str | None) -> str:
    """广东省广州市天河区体育西路1号 -> 广东省广州市天河区****: the administrative units GB2260
    knows at the start (province, city, county; any may be missing), then ****. Nothing else is
    shown: no street, estate, village or house number; an address that starts otherwise (in pinyin,
    a street, an estate) is ****."""
    if not value:
        return ""
    value = value.strip()
    if not value:
        return ""
    return value[: _admin_prefix(value)] + HIDDEN


# --- e-mail, dates, postcodes ----------------------------------------------------------------------

_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}")


def email(value: str | None) -> str:
    """alice@example.com -> a***@example.com (a local part of one letter or digit: ***@example.com); the
    domain only when it is one (letters in its last label); a value without @ -> stars."""
    if not value:
        return ""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return _hide(value)
    shown = local[:1] if _shown(local) >= 2 else ""
    return shown + MASK * 3 + "@" + (domain if _DOMAIN.fullmatch(domain) else HIDDEN)


_DATE = re.compile(r"(\d{4})([-/.年])\d{1,2}([-/.月])\d{1,2}日?(?:[ T].*)?")
_DATE8 = re.compile(r"(\d{4})\d{4}")


def date(value) -> str:
    """A personal date (birth, document expiry): the year only, 1990-01-02 -> 1990-**-**,
    19900102 -> 1990****; anything else (长期, a year alone) -> stars."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    text = value.isoformat() if isinstance(value, dt.date) else halfwidth(str(value)).strip()
    if not text:
        return ""
    m = _DATE.fullmatch(text)
    if m:
        sep2 = "日" if m.group(2) == "年" else ""
        return m.group(1) + m.group(2) + MASK * 2 + m.group(3) + MASK * 2 + sep2
    m = _DATE8.fullmatch(text)
    if m:
        return m.group(1) + MASK * 4
    return _hide(text)


birth_date = date


def postcode(value: str | None) -> str:
    """510620 -> 51**** (the first two digits name the province); fewer than four letters or digits,
    or not starting with two digits -> stars."""
    if not value:
        return ""
    v = "".join(halfwidth(value).split())
    if _shown(v) >= 4 and v[:2].isascii() and v[:2].isdigit():
        return v[:2] + MASK * (len(v) - 2)
    return MASK * min(len(v), 8)


# Field name of the book (parties, staff, visits) -> masking function. Fields not listed are not
# personal and shown as they are.
FIELD_MASKS = {
    "name": name,
    "id_no": id_no,
    "mobile": mobile,
    "phone": phone,
    "address": address,
    "email": email,
    "birth_date": date,
    "id_valid_until": date,
    "postcode": postcode,
    "contact": contact,
}


def mask_field(field: str, value) -> object:
    """Mask one value by its field name; non-personal fields are returned unchanged."""
    fn = FIELD_MASKS.get(field)
    if fn is None:
        return value
    return fn(value if isinstance(value, str) or value is None else str(value))
