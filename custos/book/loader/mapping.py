"""`--mapping FILE.yaml`: other column names, code values and file names onto the book format.

    files:                 # optional: other file/sheet names (without extension) per table
      policies: [POLICY_LIST, 保单]
    columns:               # per table: column name in the file -> format column
      policies:
        POLNO: policy_no
        渠道: channel
    codes:                 # per code list: value in the file -> format code
      channel:
        BANK: bancassurance
        "01": agency

Everything is optional. Unknown tables, columns or code lists are refused, as is a code value
mapped onto a code that does not exist.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from custos.domain.bookformat import TABLES
from custos.domain.codes import LOOKUPS

from .errors import LoadFailure


@dataclass
class Mapping:
    files: dict[str, list[str]] = field(default_factory=dict)  # table -> other names
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> {lower name: column}
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code list -> {value: code}


def load_mapping(path: Path | None) -> Mapping:
    if path is None:
        return Mapping()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise LoadFailure(f"mapping {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    where = f"mapping {Path(path).name}"
    if not isinstance(data, dict):
        raise LoadFailure(f"{where}: expected a mapping with files/columns/codes")
    unknown = set(data) - {"files", "columns", "codes"}
    if unknown:
        raise LoadFailure(f"{where}: unknown section(s) {', '.join(sorted(map(str, unknown)))}")
    m = Mapping()
    for table, names in (data.get("files") or {}).items():
        if table not in TABLES:
            raise LoadFailure(f"{where}: files: unknown table {table!r}")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list):
            raise LoadFailure(f"{where}: files.{table}: expected a name or a list of names")
        m.files[table] = [str(n) for n in names]
    for table, cols in (data.get("columns") or {}).items():
        if table not in TABLES:
            raise LoadFailure(f"{where}: columns: unknown table {table!r}")
        if not isinstance(cols, dict):
            raise LoadFailure(f"{where}: columns.{table}: expected name: column pairs")
        known = TABLES[table].column_names
        for src, dst in cols.items():
            if dst not in known:
                raise LoadFailure(f"{where}: columns.{table}.{src}: {dst!r} is not a column of {table}")
            m.columns.setdefault(table, {})[str(src).strip().lower()] = dst
    for kind, values in (data.get("codes") or {}).items():
        if kind not in LOOKUPS:
            raise LoadFailure(f"{where}: codes: unknown code list {kind!r}")
        if not isinstance(values, dict):
            raise LoadFailure(f"{where}: codes.{kind}: expected value: code pairs")
        for src, dst in values.items():
            if LOOKUPS[kind].get(str(dst)) != str(dst):
                raise LoadFailure(f"{where}: codes.{kind}.{src}: {dst!r} is not a {kind} code")
            m.codes.setdefault(kind, {})[str(src).strip()] = str(dst)
    return m
