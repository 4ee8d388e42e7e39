"""Load errors, warnings and progress notes in the reader's language.

The loader writes its messages in English (the command's output, the stored report); pages show them
through ``localize``: each known form of message is matched and rendered from a translated template
(Chinese source, English translation as the loader words it), the quoted values and numbers kept as
they are (already masked where they must be). A message of no known form is shown as written."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from custos.book.labels import FIELD_LABELS, TABLE_LABELS, label

_V = r"(?P<value>.+?)"
# (pattern over the whole message, template); named groups fill the template's %(name)s.
_FORMS = [
    (r"required column is missing", _("缺少必填列")),
    (r"column appears twice in the header", _("表头中该列出现了两次")),
    (r"empty column name in the header", _("表头中有空列名")),
    (r"column is not in the book format: kept as extra", _("该列不属于数据册格式，已作为附加列保留")),
    (r"not a table of the book format: ignored", _("不是数据册格式中的表，已忽略")),
    (r"required table (?P<table>\w+) is missing from the book", _("数据册缺少必需的表：%(table)s")),
    (r"must not be empty", _("不能为空")),
    (
        r"value has (?P<n>[\d,]+) characters, more than the (?P<max>[\d,]+) allowed",
        _("取值有 %(n)s 个字符，超过允许的 %(max)s 个"),
    ),
    (r"row has (?P<n>\d+) cells, the header (?P<m>\d+)", _("该行有 %(n)s 个单元格，表头有 %(m)s 列")),
    (r"row has (?P<n>\d+) fields, the header (?P<m>\d+)", _("该行有 %(n)s 个字段，表头有 %(m)s 列")),
    (r"cell (?P<cell>\S+) holds a formula", _("单元格 %(cell)s 含公式")),
    (r"NUL byte in the value", _("取值中含空字符（NUL）")),
    (r"control character (?P<char>U\+[0-9A-F]{4}) in the value", _("取值中含控制字符 %(char)s")),
    (r"duplicate key " + _V, _("主键重复：%(value)s")),
    (
        _V + r" is not a (?P<key>\w+) in (?P<table>\w+) \(and (?P<more>\d+) more rows\)",
        _("%(value)s 不是%(table)s中的%(key)s（另有 %(more)s 行同样）"),
    ),
    (_V + r" is not a (?P<key>\w+) in (?P<table>\w+)", _("%(value)s 不是%(table)s中的%(key)s")),
    (
        _V + r" is not a date \(YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD\)",
        _("%(value)s 不是日期（YYYY-MM-DD、YYYY/MM/DD 或 YYYYMMDD）"),
    ),
    (_V + r" is not a valid date", _("%(value)s 不是有效日期")),
    (_V + r" is not an ISO 8601 timestamp", _("%(value)s 不是 ISO 8601 时间")),
    (_V + r" is not a whole number", _("%(value)s 不是整数")),
    (_V + r" is out of range", _("%(value)s 超出范围")),
    (_V + r" is not a number", _("%(value)s 不是数字")),
    (_V + r" has more than 2 decimal places", _("%(value)s 的小数超过 2 位")),
    (_V + r" is not a (?P<kind>\w+) code", _("%(value)s 不是有效的%(kind)s代码")),
    (r"cannot read the file: (?P<why>.*)", _("无法读取文件：%(why)s")),
    (r"cannot read workbook: (?P<why>.*)", _("无法读取工作簿：%(why)s")),
    (r"cannot read (?P<kind>\w+) file: (?P<why>.*)", _("无法读取 %(kind)s 文件：%(why)s")),
    (r"not a readable zip file: (?P<why>.*)", _("不是可读取的 ZIP 文件：%(why)s")),
    (r"zip has (?P<n>\d+) entries \(limit (?P<max>\d+)\)", _("ZIP 中有 %(n)s 个文件（上限 %(max)s）")),
    (
        r"zip would expand to (?P<n>\d+) bytes \(limit (?P<max>\d+)\)",
        _("ZIP 解压后为 %(n)s 字节（上限 %(max)s）"),
    ),
    (r"entry (?P<entry>.+) points outside the book", _("文件 %(entry)s 指向数据册之外")),
    (r"entry (?P<entry>.+) is a symbolic link", _("文件 %(entry)s 是符号链接")),
    (
        r"entry (?P<entry>.+) compresses (?P<n>\d+) bytes too well",
        _("文件 %(entry)s 压缩比异常（%(n)s 字节）"),
    ),
    (r"entry (?P<entry>.+) is larger than declared", _("文件 %(entry)s 比声明的更大")),
    (r"table (?P<table>\w+) is also in another sheet", _("表 %(table)s 在另一个工作表中也出现")),
    (r"table (?P<table>\w+) is also in (?P<file>.+)", _("表 %(table)s 在 %(file)s 中也出现")),
    (r"(?P<file>.+): no such file or directory", _("%(file)s：文件不存在")),
    (
        r"(?P<file>.+): file name matches no table of the book format",
        _("%(file)s：文件名不对应数据册格式中的任何表"),
    ),
    (
        r"(?P<file>.+): not a folder, \.zip, \.xlsx, \.csv or \.parquet",
        _("%(file)s：不是文件夹、.zip、.xlsx、.csv 或 .parquet 文件"),
    ),
    (r"(?P<why>.+); the rest of the file was not read", _("%(why)s；文件其余部分未读取")),
    (r"checked (?P<file>.+): (?P<n>[\d,]+) rows", _("已校验 %(file)s：%(n)s 行")),
    (r"checking (?P<file>.+): (?P<n>[\d,]+) rows", _("正在校验 %(file)s：%(n)s 行")),
    (r"writing (?P<table>\w+): indexing", _("正在写入%(table)s：建立索引")),
    (r"writing (?P<table>\w+): merging", _("正在写入%(table)s：合并")),
    (r"writing (?P<table>\w+): (?P<n>[\d,]+) rows", _("正在写入%(table)s：%(n)s 行")),
    (r"wrote (?P<table>\w+)", _("已写入%(table)s")),
    (r"snapshot: (?P<file>.+)", _("生成快照：%(file)s")),
    (r"snapshot", _("生成快照")),
]
_COMPILED = [(re.compile(p + r"\Z", re.S), t) for p, t in _FORMS]


_KEYS = {"staff_no": _("员工工号"), "branch_level": _("机构级别"), "position": _("岗位")}


def _part(name: str, text: str) -> str:
    """A captured part as the reader's language names it: tables and columns by their labels."""
    if name == "table":
        return label(TABLE_LABELS, text)
    if name in ("key", "kind"):
        return label(FIELD_LABELS, text) if text in FIELD_LABELS else label(_KEYS, text)
    return text


def localize(message: str | None) -> str:
    """A loader message in the reader's language; one of no known form as it is."""
    if not message:
        return message or ""
    for pattern, template in _COMPILED:
        m = pattern.match(message)
        if m:
            return str(template) % {k: _part(k, v) for k, v in m.groupdict().items()}
    return message
