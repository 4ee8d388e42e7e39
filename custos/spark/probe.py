"""CPU and memory of a Spark run for `custos bench check --engine spark`: this process, its
driver JVM (a child of this process) and the JVMs of a `custos spark up` cluster (master, workers
and the executors the workers start in their process groups), sampled every 0.2 s."""

from __future__ import annotations

import json
import os
import threading

import psutil

from custos.spark import cluster


def _cluster_groups() -> set[int]:
    try:
        return set(json.loads((cluster.state_dir() / "cluster.json").read_text())["pids"])
    except (OSError, ValueError, KeyError):
        return set()


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


class SparkProbe:
    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.me = psutil.Process()
        self.groups = _cluster_groups()
        self.peak = {"driver": 0, "python": 0, "driver_jvm": 0, "executors": 0}
        self.cpu0: dict[int, float] = {}
        self.cpu1: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="custos-spark-probe", daemon=True)

    def _procs(self) -> list[tuple[str, psutil.Process]]:
        out = [("driver_jvm", c) for c in self.me.children(recursive=True)]
        if self.groups:
            for p in psutil.process_iter():
                try:
                    if os.getpgid(p.pid) in self.groups:
                        out.append(("executors" if p.pid not in self.groups else "daemons", p))
                except (ProcessLookupError, PermissionError, psutil.Error):
                    continue
        return out

    def _sample(self) -> None:
        rss = {"python": self.me.memory_info().rss, "driver_jvm": 0, "executors": 0, "daemons": 0}
        for kind, p in self._procs():
            try:
                rss[kind] += p.memory_info().rss
                self.cpu1[p.pid] = (kind, _cpu(p))
            except psutil.Error:
                continue
        rss["driver"] = rss["python"] + rss["driver_jvm"]
        for k in self.peak:
            self.peak[k] = max(self.peak[k], rss[k])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        for _, p in self._procs():
            try:
                self.cpu0[p.pid] = _cpu(p)
            except psutil.Error:
                continue
        self._sample()
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        cpu = {"driver_jvm": 0.0, "executors": 0.0, "daemons": 0.0}
        for pid, (kind, c) in self.cpu1.items():
            cpu[kind] += c - self.cpu0.get(pid, 0.0)
        mb = 1024 * 1024
        from custos.checks.engine import spark as spark_engine

        return {
            "driver_peak_rss_mb": round(self.peak["driver"] / mb),
            "python_peak_rss_mb": round(self.peak["python"] / mb),
            "driver_jvm_peak_rss_mb": round(self.peak["driver_jvm"] / mb),
            "executors_peak_rss_mb": round(self.peak["executors"] / mb),
            "driver_jvm_cpu_seconds": round(cpu["driver_jvm"], 2),
            "executors_cpu_seconds": round(cpu["executors"], 2),
            "cluster_daemons_cpu_seconds": round(cpu["daemons"], 2),
            "publish_seconds": round(spark_engine.timings.get("publish", 0.0), 2),
        }
