"""`custos bench load --policies N`: synthesise a book, load it, report rows/s and peak memory.

The book comes from custos.synth.generate_book(out_dir, policies, seed); `--generator simple`
uses the small built-in writer below instead (plain CSV, no data-quality defects), which is also
the fallback while the synthetic generator is not installed.
"""

import csv
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custos.bench import register


@register("load")
class LoadBench:
    help = "synthesise a book of N policies and load it"

    def add_arguments(self, parser):
        parser.add_argument("--policies", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--generator", choices=["synth", "simple"], default="synth")
        parser.add_argument("--book", type=Path, help="load this existing book instead of synthesising one")
        parser.add_argument("--keep", action="store_true", help="keep the synthesised book")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete the book tables' rows first (benchmark databases only)",
        )

    def run(self, options: dict, out) -> dict:
        from django.core.management import call_command
        from django.db import connection

        from custos.book.models import MODELS, BookLoad, PartyHistory
        from custos.book.services import load_book

        call_command("migrate", verbosity=0)
        if BookLoad.objects.exists():
            if not options["reset"]:
                raise SystemExit("the database already holds loads; use an empty database or --reset")
            PartyHistory.objects.all().delete()
            for model in reversed(list(MODELS.values())):
                model.objects.all().delete()
            BookLoad.objects.all().delete()
        tmp = Path(tempfile.mkdtemp(prefix="custos-bench-"))
        try:
            book = options["book"]
            gen_seconds = 0.0
            generator = "given"
            if book is None:
                book = tmp / "book"
                t0 = time.monotonic()
                generator = _generate(book, options["policies"], options["seed"], options["generator"])
                gen_seconds = time.monotonic() - t0
                out.write(
                    f"generated {options['policies']:,} policies with {generator} in {gen_seconds:.1f}s"
                )
            size = sum(p.stat().st_size for p in book.rglob("*") if p.is_file())
            marks: dict[str, float] = {}
            cpu0 = time.process_time()
            kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()

            cpu_marks: dict[str, float] = {}

            def cpu_now() -> float:
                kids = resource.getrusage(resource.RUSAGE_CHILDREN)
                return time.process_time() + kids.ru_utime + kids.ru_stime

            cpu_start = cpu_now()

            def progress(pct: int, note: str) -> None:
                for phase, at in (("validate", 45), ("write", 85), ("snapshot", 100)):
                    if pct >= at and phase not in marks:
                        marks[phase] = time.monotonic() - t0
                        cpu_marks[phase] = cpu_now() - cpu_start

            load = load_book(book, progress=progress)
            seconds = time.monotonic() - t0
            cpu = time.process_time() - cpu0
            kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            # the loader's own child processes (the second validation process)
            cpu_children = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
            if load.status != BookLoad.Status.DONE:
                raise SystemExit(f"load {load.status}: {load.errors[:3]}")
            rows = sum(load.row_counts.values())
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            figures = {
                "benchmark": "load",
                "database": connection.vendor,
                "policies": options["policies"],
                "generator": generator,
                "book_bytes": size,
                "rows": rows,
                "row_counts": load.row_counts,
                "seconds": round(seconds, 2),
                "rows_per_second": round(rows / seconds),
                "phase_seconds": {
                    "validate": round(marks.get("validate", 0), 2),
                    "write": round(marks.get("write", 0) - marks.get("validate", 0), 2),
                    "snapshot": round(seconds - marks.get("write", 0), 2),
                },
                "phase_cpu_seconds": {
                    "validate": round(cpu_marks.get("validate", 0), 2),
                    "write": round(cpu_marks.get("write", 0) - cpu_marks.get("validate", 0), 2),
                    "snapshot": round(cpu + cpu_children - cpu_marks.get("write", 0), 2),
                },
                "cpu_seconds": round(
                    cpu + cpu_children, 2
                ),  # the loader's processes (not the database server)
                "cpu_seconds_children": round(cpu_children, 2),
                "load_average_1m": round(os.getloadavg()[0], 1),  # other work on the machine
                "peak_rss_mb": round(rss_mb),
                # largest child process (shares the parent's pages until written; with --book the
                # second validation process, otherwise possibly the generator)
                "peak_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
                "generate_seconds": round(gen_seconds, 2),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
            out.write(
                f"{connection.vendor}: {rows:,} rows in {seconds:.1f}s = {figures['rows_per_second']:,} rows/s "
                f"(validate {figures['phase_seconds']['validate']}s, write {figures['phase_seconds']['write']}s, "
                f"snapshot {figures['phase_seconds']['snapshot']}s), CPU {cpu + cpu_children:.1f}s "
                f"({cpu_children:.1f}s in child processes; by phase {figures['phase_cpu_seconds']}), "
                f"peak RSS {rss_mb:.0f} MB"
            )
            return figures
        finally:
            if options["keep"]:
                out.write(f"book kept in {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)


def _generate(out_dir: Path, policies: int, seed: int, which: str) -> str:
    """Generate in a child process so that the generator's memory does not count as the load's."""
    if which == "synth":
        try:
            from custos.synth import generate_book  # noqa: F401
        except ImportError:
            which = "simple"
    code = (
        "import sys; from pathlib import Path; "
        + (
            "from custos.synth import generate_book as g; "
            if which == "synth"
            else "from custos.bench.load import simple_book as g; "
        )
        + "g(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "custos.settings"}
    subprocess.run([sys.executable, "-c", code, str(out_dir), str(policies), str(seed)], check=True, env=env)
    return which


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红梅鑫波斌宇浩凯"
CITIES = ["广州市天河区", "深圳市南山区", "北京市朝阳区", "上海市浦东新区", "成都市武侯区", "杭州市西湖区"]


def simple_book(out_dir: Path, policies: int, seed: int = 1) -> None:
    """A plain valid book: ~1 branch per 2,000 policies, 1 agent per 100, 2.7 parties per policy."""
    rnd = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_branches = max(3, policies // 2000)
    n_staff = max(5, policies // 100)
    n_partners = max(1, policies // 1000)

    def writer(name, header):
        f = open(out_dir / f"{name}.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
        w = csv.writer(f)
        w.writerow(header)
        return f, w

    def person():
        return rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.randint(1, 2)))

    def idno(year):
        return f"440106{year}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{rnd.randint(0, 9999):04d}"

    f, w = writer("branches", ["branch_code", "name", "parent_code", "level", "address", "phone"])
    w.writerow(["HO", "总公司", "", "head", "北京市西城区", "010-66660000"])
    for b in range(1, n_branches):
        w.writerow([f"B{b:05d}", f"第{b}支公司", "HO", "county", rnd.choice(CITIES), f"020-{b:08d}"])
    f.close()
    branches = ["HO"] + [f"B{b:05d}" for b in range(1, n_branches)]
    f, w = writer(
        "staff",
        [
            "staff_no",
            "name",
            "gender",
            "id_type",
            "id_no",
            "mobile",
            "address",
            "branch_code",
            "channel",
            "position",
            "supervisor_no",
            "hired_on",
            "left_on",
        ],
    )
    for s in range(n_staff):
        w.writerow(
            [
                f"S{s:07d}",
                person(),
                rnd.choice("MF"),
                "resident_id",
                idno(rnd.randint(1960, 2000)),
                f"13{rnd.randint(0, 999999999):09d}",
                rnd.choice(CITIES),
                rnd.choice(branches),
                "agency",
                "agent" if s else "sales_manager",
                "" if s == 0 else "S0000000",
                "2015-01-01",
                "",
            ]
        )
    f.close()
    f, w = writer(
        "partners",
        [
            "partner_code",
            "name",
            "kind",
            "branch_code",
            "address",
            "phone",
            "contract_no",
            "contract_until",
            "status",
        ],
    )
    for p in range(n_partners):
        w.writerow(
            [
                f"P{p:06d}",
                f"某银行第{p}支行",
                "bank",
                rnd.choice(branches),
                rnd.choice(CITIES),
                f"020-{p:08d}",
                f"C{p}",
                "2027-12-31",
                "active",
            ]
        )
    f.close()
    fp, wp = writer(
        "policies",
        [
            "policy_no",
            "product_code",
            "product_name",
            "channel",
            "branch_code",
            "agent_no",
            "partner_code",
            "applied_on",
            "issued_on",
            "status",
            "term_years",
            "premium",
            "commission",
        ],
    )
    fq, wq = writer(
        "parties",
        [
            "policy_no",
            "role",
            "seq",
            "relation",
            "name",
            "gender",
            "birth_date",
            "id_type",
            "id_no",
            "id_valid_until",
            "nationality",
            "mobile",
            "phone",
            "address",
            "postcode",
            "email",
            "occupation_code",
        ],
    )
    for i in range(policies):
        no = f"P{i:010d}"
        bank = rnd.random() < 0.4
        y = rnd.randint(2005, 2024)
        wp.writerow(
            [
                no,
                "PR1",
                "终身寿险",
                "bancassurance" if bank else "agency",
                rnd.choice(branches),
                f"S{rnd.randrange(n_staff):07d}",
                f"P{rnd.randrange(n_partners):06d}" if bank else "",
                f"{y}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                f"{y}-0{rnd.randint(1, 9)}-2{rnd.randint(0, 8)}",
                "in_force",
                rnd.choice((0, 10, 20)),
                f"{rnd.randint(1, 50000)}.00",
                f"{rnd.randint(1, 5000)}.50",
            ]
        )
        roles = [("applicant", 1, ""), ("insured", 1, "self" if rnd.random() < 0.5 else "spouse")]
        roles += [("beneficiary", k + 1, "son") for k in range(rnd.choice((0, 0, 1, 1, 2)))]
        for role, seq, rel in roles:
            by = rnd.randint(1940, 2010)
            wq.writerow(
                [
                    no,
                    role,
                    seq,
                    rel,
                    person(),
                    rnd.choice("MF"),
                    f"{by}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                    "resident_id",
                    idno(by),
                    "长期" if rnd.random() < 0.3 else "2035-01-01",
                    "CHN",
                    f"13{rnd.randint(0, 999999999):09d}",
                    "",
                    rnd.choice(CITIES) + f"{rnd.randint(1, 999)}号",
                    "510000",
                    "",
                    "",
                ]
            )
    fp.close()
    fq.close()
