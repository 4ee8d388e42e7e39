"""Every custos command explains itself: `custos <command> --help` formats without error (a stray "%"
in a help text once broke `custos bench --help`)."""

import pytest
from django.core.management import get_commands, load_command_class

CUSTOS_COMMANDS = sorted(name for name, app in get_commands().items() if app.startswith("custos"))


def test_the_commands_are_found():
    assert {"load", "check", "synth", "demo", "bench", "audit", "keys", "screen", "tasks"} <= set(
        CUSTOS_COMMANDS
    )


@pytest.mark.parametrize("name", CUSTOS_COMMANDS)
def test_help_formats(name):
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("custos", name)
    text = parser.format_help()
    assert name in text
    for action in parser._actions:  # sub-commands (custos bench load …) format their help too
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            for sub in choices.values():
                assert sub.format_help()


def test_every_custos_command_has_a_group():
    from custos.cli import COMMAND_GROUPS

    grouped = {name for names in COMMAND_GROUPS.values() for name in names}
    assert set(CUSTOS_COMMANDS) <= grouped, "add the new command to custos.cli.COMMAND_GROUPS"


def test_help_lists_custos_commands_first_then_housekeeping():
    import subprocess
    import sys

    for flag in ([], ["--help"], ["help"]):
        done = subprocess.run(
            [sys.executable, "-m", "custos.cli", *flag],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout
        housekeeping = out.index("housekeeping")
        for name in ("load", "check", "tasks", "screen", "audit", "keys"):
            assert out.index(f"\n  {name} ") < housekeeping
        assert out.index("migrate") > housekeeping
        assert "the book:" in out and "Load a book" in out
