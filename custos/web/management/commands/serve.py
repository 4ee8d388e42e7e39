"""custos serve: the web server (gunicorn, custos.wsgi) and a Huey consumer, together.

Both run as child processes; SIGTERM or SIGINT stops both, and if either exits the other is stopped
too and custos serve exits non-zero."""

import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError

STOP_TIMEOUT = 20


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the job consumer (Huey) together."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port (default 127.0.0.1:8000)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
        parser.add_argument("--timeout", type=int, default=120, help="gunicorn worker timeout, seconds")
        parser.add_argument("--no-jobs", action="store_true", help="do not start the Huey consumer")

    def handle(self, *args, bind, workers, timeout, no_jobs, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        web_cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "custos.wsgi",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--timeout",
            str(timeout),
            "--access-logfile",
            "-",
        ]
        children = {"web": subprocess.Popen(web_cmd)}
        if not no_jobs:
            children["jobs"] = subprocess.Popen([sys.executable, "-m", "custos.cli", "run_huey"])
        self.stdout.write(
            f"custos serving on http://{bind}/ (jobs: {'off' if no_jobs else 'on'}); Ctrl-C stops"
        )

        stopping = {"signal": None}

        def on_signal(signum, frame):
            stopping["signal"] = signum

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while stopping["signal"] is None:
                exited = [name for name, p in children.items() if p.poll() is not None]
                if exited:
                    break
                time.sleep(0.5)
        finally:
            for p in children.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            for p in children.values():
                try:
                    p.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for s, h in previous.items():
                signal.signal(s, h)
        if stopping["signal"] is None:
            died = ", ".join(f"{n} (exit {p.returncode})" for n, p in children.items() if p.returncode)
            raise CommandError(f"stopped because a child process exited: {died or 'unknown'}")
        self.stdout.write("custos stopped")
