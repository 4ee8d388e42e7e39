"""custos_native under AddressSanitizer and UndefinedBehaviorSanitizer: every function of the
extension over hostile values (blank, full-width, CJK, supplementary-plane, long strings that take
the heap paths), in a child process so that a memory error fails this test instead of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from custos.checks import native
from tests.conftest import require

FUZZ = r"""
import random, sys
import duckdb
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.execute(f"LOAD '{sys.argv[1]}'")
rng = random.Random(20261126)
alpha = [chr(c) for c in [*range(0x20, 0x7F), 0x3000, 0xFF10, 0xFF21, 0xFF41, 0xB7, 0x2022, 0x30FB, 0x8DEF,
                          0x8857, 0x9053, 0x7701, 0x5E02, 0x4E00, 0x9FFF, 0x3400, 0xF900, 0x20000, 0x10FFFF,
                          0xC0, 0x52F, 0x212A, 0x130, 0x0A, 0x09]]
def value():
    if rng.random() < 0.05:
        return None
    n = rng.choice([0, 1, 2, 3, 11, 13, 14, 15, 17, 18, 19, 30, 255, 256, 257, 300, 511, 512, 513, 600, 4097, 5000])
    mode = rng.random()  # digits, ASCII, anything: to reach every buffer's length
    chars = list("0123456789") if mode < 0.1 else list("0123456789-") if mode < 0.2 else alpha[:95] if mode < 0.5 else alpha
    return "".join(rng.choice(chars) for _ in range(n))
rules = ("ID01.id_type=0 ID01.id_no=1 ID02.id_no=2 ID03.id_no=3 ID04.id_no=4 ID05.id_no=5 ID06.birth_date=6 "
         "ID07.gender=7 ID08.id_no=8 ID10.id_no=9 ID11.id_no=10 ID12.id_valid_until=11 NM01.name=12 NM02.name=13 "
         "NM03.name=14 NM04.name=15 BD01.birth_date=16 BD01.gender=17 BD02.birth_date=18 BD03.birth_date=19 "
         "PH01.mobile=20 PH02.mobile=21 PH03.mobile=22 PH04.phone=23 AD01.address=24 AD02.address=25 "
         "AD03.address=26 AD06.postcode=27 EM01.email=28 as_of=20783 max_len=6 min_age=18 min_len=8 tail_zeros=7")
dates = [None, "infinity", "-infinity", "0001-01-01", "1900-02-28", "2024-02-29", "9999-12-31", "5877642-06-25",
         "-5877641-06-25"]
ids = [None, 0, -1, -(2**63), 2**63 - 1, 11010519491231002, 99999999999999999, 12345678901234567]
one = ["custos_street", "custos_repeated", "custos_name_form", "custos_han_name", "custos_email_form",
       "custos_landline_form", "custos_six_digits", "custos_digits_only"]
for _ in range(int(sys.argv[2])):
    con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?::VARCHAR[]) AS v", [[value() for _ in range(64)]])
    for f in one:
        con.execute(f"SELECT {f}(v) FROM t").fetchall()
    con.execute("SELECT custos_unseparated(v) FROM t WHERE strlen(v) = length(v) AND strlen(v) <= 4096").fetchall()
    con.execute("SELECT custos_contains_any(v, 'a|张|'), custos_ends_any(v, '路|x') FROM t").fetchall()
    con.execute("SELECT custos_slow(v, v, v, v, v, v, v), custos_parts(v, v), custos_lookup(v, v, v, v, v, v, v) FROM t").fetchall()
    con.execute(
        "SELECT custos_rules(?, v, v, v, v, v, v, v, v, v, v, v, v, CAST(d1 AS DATE), CAST(d2 AS DATE), "
        "CAST(d3 AS DATE), n, CAST(n % 3 AS INTEGER), b1, b2, b1, b2, b1, b2, b1, b2, b1) "
        "FROM (SELECT v, d1, d2, d3, n, b1, b2 FROM t POSITIONAL JOIN (SELECT unnest(?::DATE[]) AS d1, "
        "unnest(?::DATE[]) AS d2, unnest(?::DATE[]) AS d3, unnest(?::BIGINT[]) AS n, unnest(?::BOOLEAN[]) AS b1, "
        "unnest(?::BOOLEAN[]) AS b2))",
        [rules, *[[rng.choice(dates) for _ in range(64)] for _ in range(3)],
         [rng.choice(ids) for _ in range(64)], *[[rng.choice([True, False, None]) for _ in range(64)] for _ in range(2)]],
    ).fetchall()
print("clean")
"""


def _runtime(name: str) -> str | None:
    path = subprocess.run(["cc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return path if path and os.path.isabs(path) and Path(path).exists() else None


def test_the_extension_has_no_memory_error_or_undefined_behaviour_on_hostile_values(tmp_path):
    require(_runtime("libasan.so") is not None, "no AddressSanitizer runtime (libasan) beside the C compiler")
    require(_runtime("libubsan.so") is not None, "no UBSan runtime (libubsan) beside the C compiler")
    (tmp_path / "custos_ref.h").write_text(native.ref_header(), encoding="utf-8")
    (tmp_path / "custos_words.h").write_text(native.words_header(), encoding="utf-8")
    ext = tmp_path / "custos_native.duckdb_extension"
    subprocess.run(
        ["cc", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
         "-fno-omit-frame-pointer", "-fPIC", "-shared", "-fvisibility=hidden", "-std=c11",
         "-I", str(tmp_path), "-I", str(native.HERE / "include"), "-o", str(ext), str(native.SOURCE)],
        check=True,
    )  # fmt: skip
    with ext.open("ab") as fh:
        fh.write(native._footer(native._platform()))
    env = {
        **os.environ,
        "LD_PRELOAD": f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }
    done = subprocess.run(
        [sys.executable, "-c", FUZZ, str(ext), "25"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and "clean" in done.stdout, done.stderr[-3000:]
    assert "runtime error" not in done.stderr, done.stderr[-3000:]
