"""Masking of personal data for display (脱敏). Pure functions: no Django, no I/O.

Every function accepts any string (or None) and returns a string; an empty or missing value stays
empty. What is kept is enough to recognise a record on the telephone, never enough to reuse it:

- name      张*伟, 张* (two characters), 买*·*力 (dotted names: first and last character kept),
            J*** S**** (Latin names: first letter of each word)
- ID        4401**********1234 (first 4 and last 4)
- mobile    138****5678
- fixed     020-****5678 (area code and last 4)
- address   广东省广州市天河区**** (up to the county/district)
- email     a***@example.com
"""

import re

MASK = "*"

_DOTS = "·•・.．‧"


def _mask_word(word: str) -> str:
    """One run of characters: keep the first and the last, star the middle; two characters keep the first."""
    n = len(word)
    if n <= 1:
        return word
    if n == 2:
        return word[0] + MASK
    return word[0] + MASK * (n - 2) + word[-1]


def name(value: str | None) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, 买买提·艾力 -> 买*·*力, John Smith -> J*** S****."""
    if not value:
        return ""
    value = value.strip()
    if not value:
        return ""
    if any(d in value for d in _DOTS):
        # 买买提·艾力 -> 买*·*力: first character of the first word, last of the last, a star for the rest.
        parts = re.split(f"([{re.escape(_DOTS)}])", value)
        last = len(parts) - 1
        out = []
        for i, part in enumerate(parts):
            if i % 2:  # separator
                out.append(part)
            elif i == 0:
                out.append(part[:1] + MASK)
            elif i == last:
                out.append(MASK + part[-1:])
            else:
                out.append(MASK)
        return "".join(out)
    if value.isascii() and " " in value:
        return " ".join(w[:1] + MASK * (len(w) - 1) for w in value.split())
    return _mask_word(value)


def id_no(value: str | None) -> str:
    """440106199001011234 -> 4401**********1234. Short numbers (8 or fewer) keep only the last 2."""
    if not value:
        return ""
    value = value.strip()
    n = len(value)
    if n == 0:
        return ""
    if n <= 8:
        return MASK * max(n - 2, 0) + value[-2:] if n > 2 else MASK * n
    return value[:4] + MASK * (n - 8) + value[-4:]


def mobile(value: str | None) -> str:
    """13812345678 -> 138****5678; a +86 / 0086 prefix is dropped."""
    if not value:
        return ""
    value = value.strip()
    digits = re.sub(r"\D", "", value)
    if len(digits) > 11 and digits.startswith(("86", "0086")):
        digits = digits[-11:]
    if len(digits) < 7:
        return MASK * len(value)
    return digits[:3] + MASK * (len(digits) - 7) + digits[-4:]


def phone(value: str | None) -> str:
    """Fixed line: 020-12345678 -> 020-****5678; 02012345678 -> 020****5678 (area code kept)."""
    if not value:
        return ""
    value = value.strip()
    m = re.match(r"^(\+?\d{0,4}[\s-]?\(?0\d{2,3}\)?)([\s-]?)(\d+)(.*)$", value)
    if m and len(m.group(3)) >= 5:
        area, sep, local = m.group(1), m.group(2), m.group(3)
        return area + sep + MASK * (len(local) - 4) + local[-4:]
    digits = re.sub(r"\D", "", value)
    if digits.startswith("0") and len(digits) >= 10:
        area_len = 3 if digits[1] in "12" else 4
        area, local = digits[:area_len], digits[area_len:]
        return area + MASK * (len(local) - 4) + local[-4:]
    if len(digits) >= 6:
        return MASK * (len(digits) - 4) + digits[-4:]
    return MASK * len(value)


# Administrative units, largest first; the address is kept through the last county-level unit found
# at the start of the address (province → city → county/district), the rest becomes ****.
_UNIT = r"[^省市区县旗盟]{1,12}?"
_PROVINCE = rf"(?:{_UNIT}(?:省|自治区|特别行政区)|北京市|天津市|上海市|重庆市)"
_CITY = rf"(?:{_UNIT}(?:市|自治州|地区|盟))"
_COUNTY = rf"(?:{_UNIT}(?:区|县|市|旗|自治县|自治旗|林区|特区))"
_ADDRESS = re.compile(rf"^\s*({_PROVINCE}?{_CITY}?{_COUNTY}?)")


def address(value: str | None) -> str:
    """广东省广州市天河区体育西路1号 -> 广东省广州市天河区****. Without a recognisable
    administrative unit, at most the first third (and never more than 6 characters) is kept."""
    if not value:
        return ""
    value = value.strip()
    if not value:
        return ""
    m = _ADDRESS.match(value)
    head = m.group(1) if m else ""
    if not head:
        head = value[: min(6, len(value) // 3)]
    return head + MASK * 4


def email(value: str | None) -> str:
    """alice@example.com -> a***@example.com."""
    if not value:
        return ""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at:
        return value[:1] + MASK * 3 if value else ""
    return local[:1] + MASK * 3 + "@" + domain


def birth_date(value) -> str:
    """Only the year is shown: 1990-**-**."""
    if not value:
        return ""
    text = str(value)
    return text[:4] + "-**-**" if len(text) >= 4 else MASK * len(text)


# Field name of the book (parties, staff) -> masking function. Fields not listed are not personal.
FIELD_MASKS = {
    "name": name,
    "id_no": id_no,
    "mobile": mobile,
    "phone": phone,
    "address": address,
    "email": email,
    "birth_date": birth_date,
    "contact": mobile,
}


def mask_field(field: str, value) -> object:
    """Mask one value by its field name; non-personal fields are returned unchanged."""
    fn = FIELD_MASKS.get(field)
    if fn is None:
        return value
    return fn(value if isinstance(value, str) or value is None else str(value))
