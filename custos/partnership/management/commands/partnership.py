import datetime as dt
import getpass

from django.core.management.base import BaseCommand, CommandError


def _cli_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user name in a bare container
        return "cli:"


def _date(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def _user(username: str):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


class Command(BaseCommand):
    help = (
        "Partners who do not correct: open a clean-up campaign, draft its formal letters, review "
        "which partners missed the deadline or refused (termination recommendations)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser(
            "campaign", help="open a clean-up campaign (deadline default: CUSTOS_CAMPAIGN_DEADLINE_DAYS)"
        )
        c.add_argument("--name", required=True)
        c.add_argument("--start", help="YYYY-MM-DD (default today)")
        c.add_argument("--deadline", help="YYYY-MM-DD (default start + CUSTOS_CAMPAIGN_DEADLINE_DAYS)")
        c.add_argument(
            "--user", required=True, help="the compliance user opening it (holds partnership.manage)"
        )
        ltr = sub.add_parser("letters", help="draft a campaign's formal letters (PDF, numbered)")
        ltr.add_argument("--campaign", type=int, required=True)
        ltr.add_argument(
            "--user", required=True, help="the compliance user writing (holds partnership.manage)"
        )
        ltr.add_argument(
            "--partner", action="append", help="partner code (repeatable; default: every candidate)"
        )
        r = sub.add_parser(
            "review", help="recommend termination where the deadline passed or a partner refused"
        )
        r.add_argument("--campaign", type=int, help="one campaign (default: every open campaign)")
        sub.add_parser("list", help="campaigns, letters and recommendations")

    def handle(self, *args, action, **opts):
        from custos.access.service import AccessContext
        from custos.audit.record import acting_cli
        from custos.commission.services import yuan
        from custos.partnership import services
        from custos.partnership.models import Campaign, Letter, Recommendation

        def campaign_of(pk):
            c = Campaign.objects.filter(pk=pk).first()
            if c is None:
                raise CommandError(f"no campaign {pk}")
            return c

        try:
            if action == "campaign":
                user = _user(opts["user"])
                c = services.open_campaign(opts["name"], user, started_on=_date(opts.get("start"), "--start"),
                                           deadline=_date(opts.get("deadline"), "--deadline"))  # fmt: skip
                self.stdout.write(f"campaign {c.pk} {c.name!r}: {c.started_on} → deadline {c.deadline}")
            elif action == "letters":
                c = campaign_of(opts["campaign"])
                ctx = AccessContext.for_user(_user(opts["user"]), client=_cli_name())
                codes = opts.get("partner") or [
                    r["code"] for r in services.candidates(ctx, c) if not r["written"]
                ]
                if not codes:
                    self.stdout.write(f"campaign {c.pk}: no partner to write to")
                for code in codes:
                    letter = services.draft_letter(ctx, c, code)
                    self.stdout.write(
                        f"{letter.number}  {code}  {letter.policies} policies  sha256 {letter.sha256}"
                    )
            elif action == "review":
                c = campaign_of(opts["campaign"]) if opts.get("campaign") else None
                with acting_cli("partnership review"):
                    made = services.review(c, by=_cli_name())
                for rec in made:
                    self.stdout.write(
                        f"recommendation {rec.pk}: {rec.partner_code} ({', '.join(rec.grounds)}) "
                        f"{rec.open_findings} open findings, held {yuan(rec.held_fen)} yuan"
                    )
                self.stdout.write(f"{len(made)} new recommendation(s)")
            elif action == "list":
                for c in Campaign.objects.all():
                    self.stdout.write(f"campaign {c.pk} {c.name!r} {c.status} deadline {c.deadline}")
                    for letter in Letter.objects.filter(campaign=c):
                        self.stdout.write(f"  {letter.number} {letter.partner_code} {letter.status}")
                for rec in Recommendation.objects.all():
                    self.stdout.write(
                        f"recommendation {rec.pk} {rec.partner_code} {rec.status} {rec.decision or '-'}"
                    )
        except services.PartnershipError as exc:
            raise CommandError(str(exc)) from exc
