"""The package layering of docs/DEVELOPING.md, checked on the source: storage/ is the shared kernel and
imports nothing of ours; collectors/, sentiment/ and alerts/ import storage/ and themselves only (one-way
data flow, no sideways imports); repwatch/ wires them, and reaches alerts/ through its public facade
(`from alerts import …`), never its inner modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"storage", "collectors", "sentiment", "alerts", "repwatch"}
ALLOWED = {"storage": {"storage"}, "collectors": {"collectors", "storage"}, "sentiment": {"sentiment", "storage"},
           "alerts": {"alerts", "storage"}, "repwatch": OURS}


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module imported by the file, with its line (imports inside functions included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_their_layer_may(package):
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {mod}" for p in sources(package) for line, mod in imports(p)
             if mod.split(".")[0] in OURS and mod.split(".")[0] not in ALLOWED[package]]
    assert not wrong, "\n".join(wrong)


def test_the_wiring_reaches_alerts_through_its_facade_only():
    inner = [f"{p.relative_to(ROOT)}:{line} imports {mod}" for p in sources("repwatch") for line, mod in imports(p)
             if mod.startswith("alerts.")]
    assert not inner, "use `from alerts import …` (alerts/__init__.py); add the name to the facade if needed:\n" \
        + "\n".join(inner)


def test_the_facade_names_exist():
    import alerts

    for name in alerts.__all__:
        assert getattr(alerts, name) is not None, name


def test_no_facade_name_is_shadowed_by_a_module():
    """`import alerts.x` sets the attribute `x` on the package: a facade name that is also a module name
    would turn into the module as soon as anything imports that module."""
    import alerts

    clash = [n for n in alerts.__all__ if n not in alerts._MODULES
             and ((ROOT / "alerts" / f"{n}.py").exists() or (ROOT / "alerts" / n).is_dir())]
    assert not clash, clash
