"""Benchmarks: `custos bench <name> …`. Not tests: they print a table and can write JSON.

A benchmark is a class registered under a subcommand name:

    from custos.bench import register

    @register("check")
    class CheckBench:
        help = "run the checks on a synthetic book"

        def add_arguments(self, parser): ...
        def run(self, options: dict, out) -> dict:  # figures, written as JSON with --json
            ...

Every module of this package is imported by the `bench` command, so adding a file is enough.
"""

import importlib
import pkgutil

REGISTRY: dict[str, type] = {}


def register(name: str):
    def deco(cls):
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"benchmark {name!r} registered twice")
        REGISTRY[name] = cls
        return cls

    return deco


def discover() -> dict[str, type]:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    return REGISTRY
