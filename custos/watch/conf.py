"""Watch settings: `settings.CUSTOS_WATCH = {name: value}` overrides any default below."""

from __future__ import annotations

from django.conf import settings

from custos import paths

DEFAULTS: dict[str, float | int | str] = {
    "timezone": "Asia/Shanghai",
    "ingest_memory": "2GB",  # DuckDB's memory limit while ingesting (it spills to disk beyond)  # of a timestamp without an offset, and of "day" and office hours
    "office_start": 7,  # local hour office hours begin
    "office_end": 21,  # local hour they end (exclusive)
    "baseline_days": 28,  # a staff member's own baseline: their active days in this window before
    "baseline_min_days": 5,  # fewer active days than this: no own baseline (the signal needs the peers)
    "min_peers": 5,  # a position × branch group smaller than this falls back to position × channel
    # volume and distinct customers: robust z (median, MAD) against own baseline AND peer group
    "volume_z": 6.0,
    "distinct_z": 6.0,
    "volume_min": 60,  # reads; below this no volume alert however unusual
    "distinct_min": 40,
    # reads outside own portfolio / branch: distinct customers, z against own baseline
    "outside_min": 30,
    "outside_z": 5.0,
    "outside_branch_min": 30,
    "outside_branch_z": 5.0,
    "offhours_min": 20,  # off-hours reads
    "offhours_z": 5.0,
    "sequence_min": 12,  # longest run of consecutive policy numbers read in a day
    "sequence_z": 5.0,
    # a burst: the most customers viewed or searched within `burst_minutes` (two staggered grids of
    # windows: a burst of half that length falls whole in one), against own baseline
    "burst_minutes": 10,
    "burst_min": 40,
    "burst_z": 5.0,
    "partial_min": 8,  # searches by a partial ID number or phone
    "partial_z": 4.0,
    "export_min": 300,  # rows printed or exported
    "export_z": 5.0,
    # sustained drift: one-sided CUSUM on the robust z of the daily count of customers read for the
    # first time, against a baseline that lags (so that a slow rise does not become its own baseline)
    "drift_k": 1.0,
    "drift_h": 12.0,
    "drift_lag_days": 14,
    "drift_window_days": 42,
    "warmup_days": 14,  # the first days of a staff member's history raise no baseline signal
    "z_cap": 5.0,  # a signal adds at most this many times its threshold to the score
    "canary_score": 100.0,
    "alert_score": 1.0,  # an alert when the score reaches this (any signal firing scores ≥ 1)
    # triage feeding the thresholds: a signal whose triaged alerts are mostly false positives gets
    # its threshold raised (docs/watch.md)
    "tune_min_triaged": 5,
    "tune_max_factor": 2.0,
}


def get(name: str):
    override = getattr(settings, "CUSTOS_WATCH", None) or {}
    return override.get(name, DEFAULTS[name])


def history_dir():
    """Where the access history lives: CUSTOS_HOME/watch/history/day=YYYY-MM-DD/*.parquet."""
    return paths.home() / "watch" / "history"
