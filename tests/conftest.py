"""Shared test fixtures.

Tests that need PostgreSQL, Spark or Chromium skip with a reason where those are missing, except
under CI=true, where a missing dependency is a failure: nothing may skip in CI.
"""

import functools
import os
import shutil

import pytest

CI = os.environ.get("CI") == "true"
# a test CUSTOS_HOME without data keys gets them on first use (custos.crypto.fields.keys)
os.environ.setdefault("CUSTOS_AUTO_KEYS", "1")
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


# --- the PostgreSQL run repeats only what can differ there ------------------------------------------
_DB_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server"}
# a module that starts custos itself may reach the database through the environment
_REACHES_THE_DATABASE = ("subprocess", "custos.cli", "call_command", "CUSTOS_DATABASE_URL", "connection")


@functools.cache
def _module_may_reach_the_database(path: str) -> bool:
    with open(path, encoding="utf-8") as f:
        source = f.read()
    return any(word in source for word in _REACHES_THE_DATABASE)


def _database_free(item) -> bool:
    """A test with no database: pytest-django refuses it the connection, and its module starts no
    custos process. Its outcome cannot depend on the database."""
    if item.get_closest_marker("django_db") or _DB_FIXTURES & set(getattr(item, "fixturenames", ())):
        return False
    return not _module_may_reach_the_database(str(item.path))


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL run (`make test-postgres`), leave out the tests that touch no database: the
    SQLite run has run them, and here they would give the same answer a second time."""
    if not os.environ.get("CUSTOS_TEST_DATABASE_URL", "").startswith("postgres"):
        return
    free = {i for i in items if _database_free(i)}
    if free:
        config.hook.pytest_deselected(items=list(free))
        items[:] = [i for i in items if i not in free]


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


def build_small_book():
    """A tiny book written directly with the ORM: 5 branches, 3 agents, 1 bank outlet, 4 policies,
    2 parties each. Scope tests know exactly who sees which policy."""
    import datetime as dt

    from custos.book.models import BookLoad, Branch, Partner, Party, Policy, Staff

    load = BookLoad.objects.create(source_name="small", sha256="0" * 64, status="done")
    row = {"first_load": load, "last_load": load}
    for code, name, parent, level, path in [
        ("HO", "总公司", "", "head", "/HO/"),
        ("GD", "广东分公司", "HO", "province", "/HO/GD/"),
        ("GZ", "广州中心支公司", "GD", "city", "/HO/GD/GZ/"),
        ("SZ", "深圳中心支公司", "GD", "city", "/HO/GD/SZ/"),
        ("BJ", "北京分公司", "HO", "province", "/HO/BJ/"),
    ]:
        Branch.objects.create(branch_code=code, name=name, parent_code=parent, level=level, path=path, **row)
    for no, branch, left in [("A1", "GZ", None), ("A2", "BJ", None), ("A3", "GZ", dt.date(2020, 1, 1))]:
        Staff.objects.create(
            staff_no=no,
            name="业务员" + no,
            branch_code=branch,
            channel="agency",
            position="agent",
            left_on=left,
            **row,
        )
    Partner.objects.create(
        partner_code="BK1", name="某银行天河支行", kind="bank", branch_code="GZ", status="active", **row
    )
    for no, branch, channel, agent, partner in [
        ("P1", "GZ", "agency", "A1", ""),
        ("P2", "SZ", "bancassurance", "A2", "BK1"),
        ("P3", "BJ", "agency", "A2", ""),
        ("P4", "GZ", "bancassurance", "A1", "BK1"),
    ]:
        Policy.objects.create(
            policy_no=no,
            channel=channel,
            branch_code=branch,
            agent_no=agent,
            partner_code=partner,
            status="in_force",
            **row,
        )
        for role, nm in [("applicant", "张三伟"), ("insured", "李四")]:
            Party.objects.create(
                policy_no=no,
                role=role,
                seq=1,
                name=nm,
                gender="M",
                birth_date=dt.date(1980, 5, 6),
                id_type="resident_id",
                id_no="440106198005061234",
                mobile="13812345678",
                phone="020-12345678",
                address="广东省广州市天河区体育西路1号",
                email="zhang@example.com",
                **row,
            )
    return load


@pytest.fixture
def small_book(db):
    return build_small_book()


@functools.cache
def _password_hash(password: str, hashers: tuple[str, ...]) -> str:
    """The hash by the first of `hashers` (the deployment's Argon2 unless a test chose another),
    computed once per password, hashers and worker: an Argon2 hash costs 0.1-0.3 s, and the route
    walks make a user per role for every test."""
    from django.contrib.auth.hashers import make_password

    return make_password(password)


def make_user(username: str, role: str | None = None, password: str = "correct-horse-42", **scope):
    """A Django user with (unless role is None) a custos Profile of that role and scope."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from custos.access.models import Profile

    user = get_user_model()(
        username=username, password=_password_hash(password, tuple(settings.PASSWORD_HASHERS))
    )
    user.save()
    if role is not None:
        Profile.objects.create(user=user, role=role, **scope)
    return user


@pytest.fixture
def huey_consumer(tmp_path):
    """A real Huey consumer (one worker thread) on a private SqliteHuey file, for tests of the job path."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import SqliteStorage

    saved_storage, saved_immediate = HUEY.storage, HUEY.immediate
    HUEY.immediate = False
    HUEY.storage = SqliteStorage(name=HUEY.name, filename=str(tmp_path / "tasks.sqlite3"))
    consumer = HUEY.create_consumer(
        workers=1, worker_type="thread", periodic=False, check_worker_health=False, max_delay=0.5
    )
    consumer._set_signal_handlers = lambda: None  # the test runner keeps its own signal handlers
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)
        HUEY.storage = saved_storage
        HUEY.immediate = saved_immediate


def loader_available() -> bool:
    try:
        from custos.book.services import load_book  # noqa: F401
        from custos.synth import generate_book  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(autouse=True)
def _second_factor(request, settings):
    """The TOTP requirement (custos.access.middleware) is on in every deployment; tests of other
    features sign in with force_login/login and would only meet the OTP page, so it is off unless a
    test is marked `otp` (tests/test_security_signin.py)."""
    settings.CUSTOS_OTP_REQUIRED = request.node.get_closest_marker("otp") is not None


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language (zh-hans), as a request without a language choice
    would: a test that activated English and did not deactivate it must not change the next test's
    messages."""
    from django.conf import settings as django_settings
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)
