from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "The regulator's work summary (清查工作总结): summary OUT.xlsx|OUT.pdf [--as-of DATE] writes the "
        "policies in scope, checked, untrue, corrected and outstanding by check, channel and branch, "
        "commission held and deducted, and progress over time."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        s = sub.add_parser("summary", help="write the summary as XLSX (a sheet per table) or PDF (Chinese)")
        s.add_argument("out", type=Path, help="OUT.xlsx or OUT.pdf")
        s.add_argument(
            "--as-of", dest="as_of", help="the date the summary is as of (YYYY-MM-DD; default today)"
        )
        s.add_argument(
            "--period", choices=("auto", "week", "month"), default="auto", help="progress by week or month"
        )

    def handle(self, *args, action, **opts):
        from custos.report import services

        out: Path = opts["out"]
        try:
            as_of = services.parse_date(opts["as_of"]) if opts.get("as_of") else None
            summary = services.write(out, as_of, period=opts["period"])
        except services.ReportError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"{out}: {exc.strerror or exc}") from exc
        f = summary.figures
        rate = "—" if f["untrue_rate"] is None else f"{100 * f['untrue_rate']:.2f}%"
        self.stdout.write(
            f"wrote {out}: as of {summary.basis.as_of}, {f['checked']:,} of {f['in_scope']:,} policies in scope "
            f"checked, {f['untrue']:,} untrue ({rate}), {f['corrected']:,} corrected, {f['outstanding']:,} outstanding"
        )
