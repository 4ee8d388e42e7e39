"""custos keys status | rotate [--wait] | reencrypt | replace-index-key --yes: the keyring's keys.

`rotate` adds a data key and makes it primary (new values are sealed with it at once), then queues
the re-encryption of stored values (Huey, `custos serve` runs it) — or, with --wait, runs it in this
process. Old keys keep decrypting until no value uses them; then they are retired (removed from the
keyring). `reencrypt` resumes an interrupted re-encryption. `replace-index-key` replaces the
blind-index key and rebuilds every blind index (offline: stop custos first; custos.crypto.indexkey).
"""

from django.core.management.base import BaseCommand, CommandError

from custos.crypto import rotate
from custos.crypto.fields import KeyMissing, keys


class Command(BaseCommand):
    help = "Data-encryption keys: status, rotate (re-encrypt in the background), reencrypt."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="keys, values per key, rotation progress")
        r = sub.add_parser("rotate", help="new primary data key; re-encrypt stored values")
        r.add_argument(
            "--wait", action="store_true", help="re-encrypt in this process, not in the background"
        )
        sub.add_parser("reencrypt", help="re-encrypt now (resume an interrupted rotation)")
        x = sub.add_parser(
            "replace-index-key", help="new blind-index key, every blind index rebuilt (custos stopped)"
        )
        x.add_argument("--yes", action="store_true", help="confirm that custos is stopped")

    def handle(self, *args, action, **options):
        try:
            k = keys(reload=True)
        except KeyMissing as exc:
            raise CommandError(str(exc))
        if action == "status":
            return self._status(k)
        if action == "rotate":
            try:
                kid = rotate.rotate()
            except rotate.RotationInProgress as exc:
                raise CommandError(str(exc))
            self.stdout.write(f"new primary data key {kid}")
            if options["wait"]:
                return self._run()
            from custos.access.tasks import reencrypt_task

            reencrypt_task()
            self.stdout.write(
                "re-encryption queued (runs in the `custos serve` consumer); see `custos keys status`"
            )
            return None
        if action == "replace-index-key":
            return self._replace_index_key(options["yes"])
        return self._run()

    def _replace_index_key(self, confirmed: bool):
        from custos.audit import service as audit
        from custos.crypto import indexkey

        if not confirmed:
            raise CommandError(
                "replace-index-key rebuilds every blind index: stop custos (web and task consumer), "
                "then run again with --yes"
            )
        counts = indexkey.replace()
        audit.append(
            username="system",
            action="key_replace_index",
            model="keyring",
            fields=sorted(counts),
            outcome="ok",
        )
        total = sum(counts.values())
        detail = ", ".join(f"{m} {n:,}" for m, n in counts.items())
        self.stdout.write(f"new blind-index key; {total:,} rows re-indexed ({detail})")

    def _run(self):
        status = rotate.reencrypt()
        self.stdout.write(
            f"re-encrypted {status['resealed']:,} of {status['done']:,} values read; "
            f"retired: {', '.join(status['retired']) or 'none'}"
        )

    def _status(self, k):
        counts = rotate.counts_by_key()
        for kid in k.data_keys:
            mark = "primary" if kid == k.current_id else "old (decrypt only)"
            self.stdout.write(f"data key {kid}  {mark:20}  {counts.get(kid, 0):>12,} values")
        if counts.get("clear"):
            self.stdout.write(f"NOT ENCRYPTED  {counts['clear']:,} values: run `custos keys reencrypt`")
        for kid, n in counts.items():
            if kid not in k.data_keys and kid != "clear":
                self.stdout.write(f"UNKNOWN key {kid}  {n:,} values cannot be decrypted")
        st = rotate.read_status()
        if st:
            self.stdout.write(
                f"rotation to {st.get('target')}: {st.get('state')}, {st.get('done', 0):,} values read, "
                f"{st.get('resealed', 0):,} re-encrypted"
                + (f", now {st['column']}" if st.get("column") else "")
                + (f", retired {', '.join(st['retired'])}" if st.get("retired") else "")
                + (f", error {st['error']}" if st.get("error") else "")
            )
