"""Shared test fixtures.

Tests that need PostgreSQL, Spark or Chromium skip with a reason where those are missing, except
under CI=true, where a missing dependency is a failure: nothing may skip in CI.
"""

import os
import shutil

import pytest

CI = os.environ.get("CI") == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(condition: bool, reason: str) -> None:
    """Skip when a dependency of the test is missing; under CI that is a failure instead."""
    if condition:
        return
    if CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require(os.path.exists(CHROMIUM), f"Chromium is not installed at {CHROMIUM}")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def java_available() -> bool:
    return shutil.which("java") is not None


@pytest.fixture
def custos_home(tmp_path, monkeypatch):
    """A private CUSTOS_HOME (snapshots, uploads) for one test."""
    monkeypatch.setenv("CUSTOS_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"
