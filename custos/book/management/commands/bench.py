"""`custos bench <name> …`: run a registered benchmark (see custos.bench)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from custos.bench import discover


class Command(BaseCommand):
    help = "Run a benchmark: custos bench load --policies N [--database-url URL] [--json OUT]"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="bench", required=True, metavar="NAME")
        for name, cls in sorted(discover().items()):
            p = sub.add_parser(name, help=getattr(cls, "help", "").replace("%", "%%"))
            p.add_argument("--json", type=Path, help="write the figures to this JSON file")
            p.add_argument(
                "--database-url",
                help="run against this database (re-runs the benchmark with CUSTOS_DATABASE_URL set)",
            )
            cls().add_arguments(p)

    def handle(self, *args, bench: str, **options):
        url = options.get("database_url")
        if url and os.environ.get("CUSTOS_DATABASE_URL") != url:
            argv = [a for a in sys.argv[1:] if a]
            # drop --database-url and its value, re-run with the environment set
            clean, skip = [], False
            for a in argv:
                if skip:
                    skip = False
                    continue
                if a == "--database-url":
                    skip = True
                    continue
                if a.startswith("--database-url="):
                    continue
                clean.append(a)
            env = {**os.environ, "CUSTOS_DATABASE_URL": url}
            rc = subprocess.call([sys.executable, "-m", "custos.cli", *clean], env=env)
            if rc:
                raise CommandError(f"benchmark failed (exit {rc})", returncode=rc)
            return
        cls = discover()[bench]
        if getattr(cls, "needs_database", False):
            require_schema()
        figures = cls().run(options, self.stdout)
        if options.get("json"):
            options["json"].write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
            self.stdout.write(f"figures written to {options['json']}")


def require_schema() -> None:
    """A benchmark that reads the configured database says what to run first on one without custos's
    schema, instead of failing on the first missing table."""
    from django.db import connection

    from custos.book.models import Policy

    if Policy._meta.db_table not in connection.introspection.table_names():
        where = connection.settings_dict.get("NAME")
        raise CommandError(
            f"the database {where} has no custos schema: run `custos init`, then `custos load PATH`"
        )
