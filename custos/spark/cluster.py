"""A Spark standalone cluster from the PySpark installation: the development and test stand-in for
the insurer's cluster (`custos spark up [--workers N]`, `custos spark down`, `custos spark status`).

The master and each worker are separate JVMs started with PySpark's ``bin/spark-class`` (no
download, no ``sbin`` scripts: the wheel has none). State lives in ``<CUSTOS_HOME>/spark/cluster``:
``cluster.json`` (master URL, ports, process ids), ``secret`` (the RPC secret, mode 0600), logs and
the workers' scratch directories (shuffle and spill files: encrypted by the applications).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from custos import paths

START_TIMEOUT = 120  # seconds for the master and its workers to come up (a loaded machine is slow)
DAEMON_MEMORY = "256m"  # the master's and workers' own heap; executors are sized by the application


class ClusterError(RuntimeError):
    """A one-line reason the cluster could not be started or stopped."""


@dataclass
class Cluster:
    master_url: str
    web_url: str
    pids: list[int]
    workers: int


def state_dir() -> Path:
    """CUSTOS_SPARK_CLUSTER_DIR, default <CUSTOS_HOME>/spark/cluster."""
    return Path(os.environ.get("CUSTOS_SPARK_CLUSTER_DIR") or paths.home() / "spark" / "cluster")


def _state_file() -> Path:
    return state_dir() / "cluster.json"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def _master_json(web_url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{web_url}/json/", timeout=3) as r:  # noqa: S310 - our own master
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def alive_workers(web_url: str) -> int:
    data = _master_json(web_url)
    if not data:
        return 0
    return sum(1 for w in data.get("workers", []) if w.get("state") == "ALIVE")


def status() -> Cluster | None:
    """The running cluster of this CUSTOS_HOME, or None (a stale state file is removed)."""
    try:
        st = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    c = Cluster(st["master_url"], st["web_url"], st["pids"], st["workers"])
    if all(_alive(p) for p in c.pids) and _master_json(c.web_url) is not None:
        return c
    return None


def secret_for(master_url: str) -> str | None:
    """The RPC secret of our own cluster when ``master_url`` is it (None for any other master)."""
    try:
        st = json.loads(_state_file().read_text())
        if st["master_url"] == master_url:
            return (state_dir() / "secret").read_text().strip()
    except (OSError, ValueError, KeyError):
        pass
    return None


def _spawn(args: list[str], log: Path, env: dict) -> subprocess.Popen:
    out = log.open("ab")
    try:
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: `down` stops it and its children
        )
    finally:
        out.close()


def up(
    workers: int = 2,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    worker_cores: int = 1,
    worker_memory: str = "2g",
) -> tuple[Cluster, bool]:
    """Start a master and ``workers`` workers (or find them running); returns (cluster, started)."""
    import shutil

    running = status()
    if running is not None:
        if running.workers != workers:
            raise ClusterError(
                f"a cluster with {running.workers} workers is already running at {running.master_url} "
                "(custos spark down first)"
            )
        return running, False
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ClusterError("Java is not installed (Spark needs a JDK or JRE 17)")
    _kill_recorded()
    d = state_dir()
    (d / "logs").mkdir(parents=True, exist_ok=True)
    secret_file = d / "secret"
    secret_file.write_text(secrets.token_hex(32))
    secret_file.chmod(0o600)
    port = port or free_port(host)
    web_port = free_port(host)
    auth = f"-Dspark.authenticate=true -Dspark.authenticate.secret={secret_file.read_text()}"
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
        "SPARK_DAEMON_JAVA_OPTS": auth,
        "SPARK_LOCAL_IP": host,
        "SPARK_NO_DAEMONIZE": "1",
    }
    procs = [
        _spawn(
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                host,
                "--port",
                str(port),
                "--webui-port",
                str(web_port),
            ],
            d / "logs" / "master.log",
            env,
        )
    ]
    master_url, web_url = f"spark://{host}:{port}", f"http://{host}:{web_port}"
    _write_state(master_url, web_url, [p.pid for p in procs], workers)
    try:
        _wait(lambda: _master_json(web_url) is not None, procs, "the master did not start")
        for i in range(workers):
            work = d / f"worker-{i}"
            (work / "local").mkdir(parents=True, exist_ok=True)
            wenv = {**env, "SPARK_LOCAL_DIRS": str(work / "local")}
            procs.append(
                _spawn(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        master_url,
                        "--host",
                        host,
                        "--port",
                        str(free_port(host)),
                        "--webui-port",
                        str(free_port(host)),
                        "--cores",
                        str(worker_cores),
                        "--memory",
                        worker_memory,
                        "--work-dir",
                        str(work / "work"),
                    ],
                    d / "logs" / f"worker-{i}.log",
                    wenv,
                )
            )
            _write_state(master_url, web_url, [p.pid for p in procs], workers)
        _wait(lambda: alive_workers(web_url) >= workers, procs, f"{workers} workers did not register")
    except ClusterError:
        _kill([p.pid for p in procs])
        _state_file().unlink(missing_ok=True)
        raise
    return Cluster(master_url, web_url, [p.pid for p in procs], workers), True


def _write_state(master_url: str, web_url: str, pids: list[int], workers: int) -> None:
    _state_file().write_text(
        json.dumps({"master_url": master_url, "web_url": web_url, "pids": pids, "workers": workers})
    )


def _wait(ready, procs: list[subprocess.Popen], reason: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise ClusterError(
                f"{reason}: a Spark process exited ({dead[0].returncode}); see {state_dir() / 'logs'}"
            )
        time.sleep(0.5)
    raise ClusterError(f"{reason} within {START_TIMEOUT} s; see {state_dir() / 'logs'}")


def _kill(pids: list[int]) -> None:
    """Stop the process groups we started (each spawned process leads its own group)."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 20
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.waitpid(pid, os.WNOHANG)  # reap our own children
        except ChildProcessError:
            pass


def _ours(pid: int) -> bool:
    """``pid`` is still a Spark daemon (not a process that reused a recorded id)."""
    try:
        return b"org.apache.spark.deploy." in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _kill_recorded() -> list[int]:
    try:
        pids = json.loads(_state_file().read_text())["pids"]
    except (OSError, ValueError, KeyError):
        return []
    live = [p for p in pids if _alive(p) and _ours(p)]
    _kill(live)
    return live


def down() -> bool:
    """Stop the cluster of this CUSTOS_HOME; False when none was running."""
    if not _state_file().exists():
        return False
    stopped = _kill_recorded()
    _state_file().unlink(missing_ok=True)
    return bool(stopped)
