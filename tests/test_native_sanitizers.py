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
one = ["custos_street", "custos_repeated", "custos_name_form", "custos_han_name", "custos_email_form",
       "custos_landline_form", "custos_six_digits", "custos_digits_only"]
for _ in range(int(sys.argv[2])):
    con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?::VARCHAR[]) AS v", [[value() for _ in range(64)]])
    for f in one:
        con.execute(f"SELECT {f}(v) FROM t").fetchall()
    con.execute("SELECT custos_unseparated(v) FROM t WHERE strlen(v) = length(v) AND strlen(v) <= 4096").fetchall()
    con.execute("SELECT custos_contains_any(v, 'a|张|'), custos_ends_any(v, '路|x') FROM t").fetchall()
    con.execute("SELECT custos_slow(v, v, v, v, v, v, v), custos_parts(v, v), custos_lookup(v, v, v, v, v, v, v) FROM t").fetchall()
print("clean")
"""


def _runtime(name: str) -> str | None:
    path = subprocess.run(["cc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return path if path and os.path.isabs(path) and Path(path).exists() else None


def test_the_extension_has_no_memory_error_or_undefined_behaviour_on_hostile_values(tmp_path):
    require(_runtime("libasan.so") is not None, "no AddressSanitizer runtime (libasan) beside the C compiler")
    require(_runtime("libubsan.so") is not None, "no UBSan runtime (libubsan) beside the C compiler")
    (tmp_path / "custos_ref.h").write_text(native.ref_header(), encoding="utf-8")
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
