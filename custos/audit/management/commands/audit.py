import json

from django.core.management.base import BaseCommand, CommandError

from custos.audit import service


class Command(BaseCommand):
    help = (
        "Tamper-evident audit log: verify, prove ENTRY, consistency A B, checkpoint, check-proof FILE, "
        "archive, check-archive FILE."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "verify",
            help="recompute the whole log against its signed checkpoints, and each change event "
            "against its entry",
        )
        prove = sub.add_parser("prove", help="print an inclusion proof of one entry (JSON)")
        prove.add_argument("seq", type=int)
        cons = sub.add_parser("consistency", help="print a consistency proof between two checkpoints")
        cons.add_argument("first", type=int)
        cons.add_argument("second", type=int)
        sub.add_parser("checkpoint", help="sign the current tree head now")
        check = sub.add_parser("check-proof", help="verify a proof file printed by `prove`")
        check.add_argument("file")
        arch = sub.add_parser(
            "archive",
            help="move entries older than the retention (CUSTOS_AUDIT_RETENTION_DAYS) that a signed "
            "checkpoint covers into an archive file; their leaf hashes stay",
        )
        arch.add_argument("--retention-days", type=int, help="override the setting for this run")
        arch.add_argument("--out", help="directory of the archive files (default CUSTOS_HOME/audit-archive)")
        carch = sub.add_parser("check-archive", help="verify an archive file on its own")
        carch.add_argument("file")

    def handle(self, *args, action, **opts):
        if action == "verify":
            from custos.audit.record import verify_changes

            service.checkpoint()
            result = service.verify()
            result.problems.extend(verify_changes())  # each change event against its log entry
            rate = result.entries / result.seconds if result.seconds else 0
            archived = f" ({result.archived} archived: leaf hashes only)" if result.archived else ""
            self.stdout.write(
                f"{result.entries} entries{archived}, {result.checkpoints} checkpoints, "
                f"{result.seconds:.2f} s ({rate:,.0f} entries/s)"
            )
            if not result.ok:
                for problem in result.problems:
                    self.stderr.write(problem)
                raise CommandError(f"audit log verification FAILED: {result.problems[0]}")
            self.stdout.write(
                "audit log verified: nothing altered, inserted, reordered or removed; "
                "every change event matches its entry"
            )
        elif action == "prove":
            try:
                self.stdout.write(json.dumps(service.prove(opts["seq"]), indent=2, ensure_ascii=False))
            except LookupError as exc:
                raise CommandError(str(exc))
        elif action == "consistency":
            try:
                self.stdout.write(json.dumps(service.consistency(opts["first"], opts["second"]), indent=2))
            except (LookupError, ValueError) as exc:
                raise CommandError(str(exc))
        elif action == "checkpoint":
            cp = service.checkpoint()
            self.stdout.write(f"checkpoint at size {cp.tree_size}" if cp else "audit log is empty")
        elif action == "archive":
            from custos.audit import archive

            if opts.get("retention_days") is not None and opts["retention_days"] < 0:
                raise CommandError("--retention-days must be 0 or more")
            try:
                done = archive.archive(opts.get("retention_days"), opts.get("out"), by="custos audit archive")
            except (archive.ArchiveError, OSError) as exc:
                raise CommandError(f"archive failed, nothing removed: {exc}")
            if done is None:
                self.stdout.write(
                    "nothing to archive (no signed checkpoint covers entries older than the retention)"
                )
            else:
                self.stdout.write(
                    f"archived entries {done.first_seq}..{done.end_seq - 1} "
                    f"({done.end_seq - done.first_seq} entries) to {done.path}"
                )
        elif action == "check-archive":
            from pathlib import Path

            from custos.audit import archive

            check = archive.check_archive(Path(opts["file"]))
            if not check.ok:
                for problem in check.problems:
                    self.stderr.write(problem)
                raise CommandError(f"archive does NOT verify: {check.problems[0]}")
            self.stdout.write(
                f"archive verified: entries {check.first_seq}..{check.end_seq - 1}, "
                f"{check.checkpoints} signed checkpoints (keys from the {check.keys_from})"
            )
        elif action == "check-proof":
            try:
                with open(opts["file"]) as f:
                    proof = json.load(f)
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read proof {opts['file']}: {exc}")
            if not service.check_proof(proof):
                raise CommandError("proof does NOT verify")
            self.stdout.write(
                f"entry {proof['entry']['seq']} is included in the signed tree of size {proof['tree_size']}"
            )
