"""custos init / createuser / token: real processes, unattended (stdin is not a TTY), exit codes, the
keyring file's mode. Each runs on its own SQLite database under a temporary CUSTOS_HOME."""

import json
import os
import stat
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_access_commands")]


def custos(home, *args, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    environ.update({"CUSTOS_HOME": str(home), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "custos.cli", *args],
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One initialised CUSTOS_HOME shared by the tests of this module (init takes a few seconds)."""
    home = tmp_path_factory.mktemp("custos") / "var"
    result = custos(home, "init", "--admin", "boss", env={"CUSTOS_ADMIN_PASSWORD": "a-long-admin-pass"})
    assert result.returncode == 0, result.stderr
    assert "admin boss: created" in result.stdout and "a-long-admin-pass" not in result.stdout
    return home


def test_init_writes_keyring_with_mode_600(home):
    keyring = home / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    content = json.loads(keyring.read_text())
    assert len(content["django_secret_key"]) >= 50
    assert len(content["data_keys"]) == 1 and content["blind_index_key"] and content["created_at"]
    assert (home / "custos.sqlite3").exists()


def test_init_is_idempotent(home):
    before = (home / "keyring.json").read_text()
    result = custos(home, "init", "--admin", "boss", "--password", "another-password-9")
    assert result.returncode == 0, result.stderr
    assert "kept (already exists)" in result.stdout and "admin boss: exists, unchanged" in result.stdout
    assert (home / "keyring.json").read_text() == before


def test_init_tightens_a_loose_keyring(tmp_path):
    home = tmp_path / "var"
    home.mkdir()
    (home / "keyring.json").write_text('{"django_secret_key": "x", "data_keys": []}')
    os.chmod(home / "keyring.json", 0o644)
    result = custos(home, "init")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((home / "keyring.json").stat().st_mode) == 0o600
    content = json.loads((home / "keyring.json").read_text())
    assert content["django_secret_key"] == "x" and "created_at" in content  # kept, completed
    assert "admin admin: created, password " in result.stdout  # generated and printed once


def test_createuser_and_token(home):
    result = custos(
        home,
        "createuser",
        "agent7",
        "--role",
        "agent",
        "--staff-no",
        "A7",
        "--token",
        env={"CUSTOS_USER_PASSWORD": "agent-password-7"},
    )
    assert result.returncode == 0, result.stderr
    assert "user agent7 (agent) created" in result.stdout
    assert "API token (shown once): ct_" in result.stdout

    again = custos(home, "createuser", "agent7", "--role", "agent", "--staff-no", "A7")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == ["CommandError: user agent7 already exists"]


# The rest run in-process (call_command) on the test database: same code, faster than a process each.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x1", "--role", "agent"], "an agent needs --staff-no"),
        (["x2", "--role", "partner_staff"], "partner staff need --partner"),
        (["x3", "--role", "channel_manager"], "a channel manager needs --channel"),
        (["x4", "--role", "compliance", "--password", "short"], "password rejected"),
    ],
)
def test_createuser_refuses_incomplete_users(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("createuser", *args)
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_createuser_unknown_role_is_a_usage_error():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("createuser", "x5", "--role", "king")


@pytest.mark.django_db
def test_createuser_scope_and_generated_password(capsys):
    call_command(
        "createuser", "cm", "--role", "channel_manager", "--channel", "bancassurance", "--branch", "GD"
    )
    out = capsys.readouterr().out
    user = get_user_model().objects.get(username="cm")
    password = out.split("password ")[1].split()[0]
    assert user.check_password(password)
    p = user.custos_profile
    assert (p.role, p.channel, p.branch_code) == ("channel_manager", "bancassurance", "GD")


@pytest.mark.django_db
def test_token_create_list_revoke(capsys):
    from custos.api.models import ApiToken

    call_command("createuser", "t1", "--role", "auditor", "--password", "auditor-password-1")
    capsys.readouterr()
    call_command("token", "create", "t1", "--name", "ci")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert secret.startswith("ct_") and token.digest == ApiToken.hash(secret) and token.name == "ci"
    call_command("token", "list")
    assert token.prefix in capsys.readouterr().out
    call_command("token", "revoke", token.prefix)
    token.refresh_from_db()
    assert token.revoked
    with pytest.raises(CommandError, match="no active token"):
        call_command("token", "revoke", token.prefix)
    with pytest.raises(CommandError, match="no active user"):
        call_command("token", "create", "nobody")
