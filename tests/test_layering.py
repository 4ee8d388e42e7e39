"""The layering of docs/architecture.md, checked on the source: the pure domain imports nothing of
custos but itself and no Django; crypto (keys, sealing, snapshots) imports no app — apps register
what they seal (custos.crypto.registry)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "custos"


def imports_of(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in every module of custos/<package>."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [(path.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from custos import paths" imports custos.paths
                names = (
                    [f"{node.module}.{a.name}" for a in node.names]
                    if node.module == "custos"
                    else [node.module]
                )
                out += [(path.name, name) for name in names]
    return out


@pytest.mark.parametrize(
    "package, allowed",
    [
        ("domain", ("custos.domain",)),
        ("crypto", ("custos.crypto", "custos.core", "custos.paths")),
    ],
)
def test_a_lower_layer_imports_no_higher_one(package, allowed):
    wrong = [
        (file, module)
        for file, module in imports_of(package)
        if module.startswith("custos") and not module.startswith(allowed)
    ]
    assert wrong == []


def test_the_domain_imports_no_django():
    assert [(f, m) for f, m in imports_of("domain") if m.split(".")[0] == "django"] == []


def test_key_rotation_still_finds_what_the_apps_seal_by_hand():
    """Moving the app-specific columns and files out of crypto lost none of them."""
    from custos.crypto import registry, rotate

    tables = {(c.db_table, c.column) for c in rotate.columns()}
    assert {
        ("book_partyhistory", "old_value"),
        ("book_partyhistory", "new_value"),
        ("extraction_canary", "id_no_enc"),
        ("remediation_contactattempt", "contact_sealed"),
    } <= tables
    assert "evidence" in registry._FILES and "extraction files" in registry._KEY_USERS
