"""custos spark up [--workers N] | down | status | jar

A Spark standalone cluster from the PySpark installation for development and tests; production
points CUSTOS_SPARK_MASTER at the insurer's cluster (yarn, spark://…) instead. `up` prints the
master URL on its last line (``export CUSTOS_SPARK_MASTER=$(custos spark up | tail -1)``).
"""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Spark standalone cluster for the bulk engines: up [--workers N], down, status, jar."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        up = sub.add_parser("up", help="start a master and N workers (nothing happens if they run)")
        up.add_argument("--workers", type=int, default=2)
        up.add_argument("--host", default="127.0.0.1")
        up.add_argument("--port", type=int, default=None, help="master port (default: a free one)")
        up.add_argument("--worker-cores", type=int, default=1)
        up.add_argument("--worker-memory", default="2g", help="memory each worker offers its executors")
        sub.add_parser("down", help="stop the cluster this CUSTOS_HOME started (nothing if none runs)")
        sub.add_parser("status", help="print the master URL; exit 1 when no cluster runs")
        sub.add_parser("jar", help="rebuild custos-spark.jar (the KMS client) from custos/spark/java")

    def handle(self, *args, action, **opts):
        from custos.spark import cluster

        if action == "up":
            if opts["workers"] < 1:
                raise CommandError("--workers must be at least 1")
            try:
                c, started = cluster.up(
                    opts["workers"],
                    host=opts["host"],
                    port=opts["port"],
                    worker_cores=opts["worker_cores"],
                    worker_memory=opts["worker_memory"],
                )
            except cluster.ClusterError as e:
                raise CommandError(str(e)) from None
            self.stdout.write(
                f"{'started' if started else 'already running'}: master and {c.workers} workers "
                f"(web UI {c.web_url}; state in {cluster.state_dir()})"
            )
            self.stdout.write(c.master_url)
        elif action == "down":
            self.stdout.write("stopped" if cluster.down() else "no cluster was running")
        elif action == "status":
            c = cluster.status()
            if c is None:
                raise CommandError("no cluster is running")
            self.stdout.write(f"{c.master_url} ({cluster.alive_workers(c.web_url)} workers alive)")
        elif action == "jar":
            from custos.spark.session import build_jar

            try:
                self.stdout.write(str(build_jar()))
            except (RuntimeError, OSError) as e:
                raise CommandError(str(e)) from None
            except Exception as e:  # noqa: BLE001 - javac's failure, in one line
                raise CommandError(f"javac failed: {e}") from None
