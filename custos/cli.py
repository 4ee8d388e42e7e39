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

    try:
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
