"""The `custos` command: Django's management commands with custos' settings.

`custos load PATH`, `custos synth …`, `custos check …` are management commands of the custos apps;
Django's own (migrate, shell, …) are reachable too. Every command runs unattended: options or
environment instead of prompts, exit status 0 on success, non-zero with a one-line reason on failure.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custos.settings")
    argv = list(sys.argv if argv is None else ["custos", *argv])
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
