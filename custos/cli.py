"""The `custos` command: Django's management commands with custos' settings.

`custos load PATH`, `custos synth …`, `custos check …` are management commands of the custos apps;
Django's own (migrate, shell, …) are reachable too. Every command runs unattended: options or
environment instead of prompts, exit status 0 on success, non-zero with a one-line reason on failure.
`custos`, `custos help` and `custos --help` list custos's own commands first, grouped by what they
do, and Django's housekeeping commands after them.
"""

import os
import sys

# custos's commands by what they do, in the order a new user meets them. A command of a custos app
# that is missing here is listed under "other custos commands" (and tests/test_cli_help.py fails).
COMMAND_GROUPS: dict[str, tuple[str, ...]] = {
    "set up and run": ("init", "createuser", "demo", "serve"),
    "the book": ("synth", "load"),
    "checks and findings": ("check", "findings"),
    "one customer across policies and channels": ("link", "persons"),
    "remediation": ("tasks", "corrections"),
    "the regulator's work summary": ("report",),
    "commission": ("commission", "partnership"),
    "violations and fines": ("discipline", "blacklist"),
    "online screening": ("screen", "screenkey", "screenindex"),
    "protection: keys, audit, extraction, integrity": (
        "security",
        "keys",
        "audit",
        "integrity",
        "extract",
        "token",
        "watch",
        "trace",
    ),
    "the bulk work on a Spark cluster": ("spark",),
    "benchmarks": ("bench",),
}
HELP_FLAGS = {"help", "--help", "-h"}


def _summary(command) -> str:
    text = (getattr(command, "help", "") or "").strip()
    return text.splitlines()[0].rstrip(".") if text else ""


def grouped_help() -> str:
    """custos's commands grouped with a one-line summary each, then the rest by application."""
    from django.core.management import get_commands, load_command_class

    commands = get_commands()
    ours = {name: app for name, app in commands.items() if app.startswith("custos")}
    lines = ["usage: custos <command> [options]   (custos help <command> for a command's options)", ""]
    listed: set[str] = set()
    groups = dict(COMMAND_GROUPS)
    groups["other custos commands"] = tuple(
        sorted(set(ours) - {c for g in COMMAND_GROUPS.values() for c in g})
    )
    for title, names in groups.items():
        present = [n for n in names if n in ours]
        if not present:
            continue
        lines.append(f"{title}:")
        for name in present:
            summary = _summary(load_command_class(ours[name], name))
            line = f"  {name:<13} {summary}"
            lines.append(line if len(line) <= 110 else line[:109] + "…")
            listed.add(name)
        lines.append("")
    lines.append("housekeeping (Django and its libraries):")
    by_app: dict[str, list[str]] = {}
    for name, app in commands.items():
        if name not in listed:
            by_app.setdefault("django" if app == "django.core" else app.rpartition(".")[2], []).append(name)
    for app in sorted(by_app):
        lines.append(f"  [{app}] " + ", ".join(sorted(by_app[app])))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custos.settings")
    argv = list(sys.argv if argv is None else ["custos", *argv])
    from django.core.management import execute_from_command_line

    try:
        if len(argv) == 1 or (len(argv) == 2 and argv[1] in HELP_FLAGS):
            import django

            django.setup()
            sys.stdout.write(grouped_help())
            return
        execute_from_command_line(argv)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - any failure ends as one line (CommandError is Django's)
        if "--traceback" in argv or os.environ.get("CUSTOS_DEBUG") == "1":
            raise
        first = (str(e).strip().splitlines() or [""])[0]
        sys.stderr.write(f"custos: {type(e).__name__}: {first} (--traceback for details)\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
