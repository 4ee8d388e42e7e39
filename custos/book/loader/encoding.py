"""Detect the encoding of a CSV file: UTF-8 (with or without BOM), else GB18030/GBK, else reject.

GB18030 decodes almost any byte pair, so a file that is not UTF-8 must both decode strictly as
GB18030 and look like Chinese text: its non-ASCII characters must be overwhelmingly GB2312
characters (the 6,763 common hanzi plus punctuation) or other common CJK. Latin-1 text, random
bytes and other garbage fail one test or the other.
"""

import codecs
import functools
import re
from pathlib import Path

CHUNK = 1 << 20
SAMPLE_CHARS = 200_000  # non-ASCII characters examined for plausibility
MIN_PLAUSIBLE = 0.9
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


class EncodingRejected(Exception):
    def __init__(self, offset: int, message: str):
        self.offset = offset
        super().__init__(message)


@functools.cache
def _gb2312_chars() -> frozenset[str]:
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


def _plausible(ch: str) -> bool:
    if ch in _gb2312_chars():
        return True
    o = ord(ch)
    # CJK unified ideographs (GBK's extra hanzi such as 堃, 喆), CJK punctuation, full-width forms
    return 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or o == 0xB7


def _scan(path: Path, encoding: str) -> tuple[int | None, str]:
    """(offset of the first undecodable byte or None, sample of decoded non-ASCII characters)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    sample: list[str] = []
    n_sample = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            final = not chunk
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError as e:
                return max(0, offset - pending + e.start), "".join(sample)
            if n_sample < SAMPLE_CHARS and text and not text.isascii():
                found = _NON_ASCII.findall(text)[: SAMPLE_CHARS - n_sample]
                sample.extend(found)
                n_sample += len(found)
            offset += len(chunk)
            if final:
                return None, "".join(sample)


def detect(path: Path) -> str:
    """Python codec name to read the file with ('utf-8-sig' or 'gb18030'); raises EncodingRejected."""
    with open(path, "rb") as f:
        head = f.read(3)
    if head == codecs.BOM_UTF8:
        bad, _ = _scan(path, "utf-8-sig")
        if bad is None:
            return "utf-8-sig"
        raise EncodingRejected(bad, f"starts with a UTF-8 BOM but byte offset {bad} is not valid UTF-8")
    bad_utf8, _ = _scan(path, "utf-8")
    if bad_utf8 is None:
        return "utf-8-sig"
    bad_gb, sample = _scan(path, "gb18030")
    if bad_gb is None and sample:
        ok = sum(1 for ch in sample if _plausible(ch))
        if ok / len(sample) >= MIN_PLAUSIBLE:
            return "gb18030"
    with open(path, "rb") as f:
        f.seek(bad_utf8)
        byte = f.read(1)
    why = (
        f"not GB18030 either (undecodable at byte offset {bad_gb})"
        if bad_gb is not None
        else "and as GB18030 it does not read as Chinese text"
    )
    raise EncodingRejected(
        bad_utf8,
        f"encoding is neither UTF-8 nor GB18030/GBK: first bad byte 0x{byte.hex().upper()} "
        f"at byte offset {bad_utf8} is not UTF-8, {why}",
    )
