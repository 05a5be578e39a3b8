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


def _type_checking_imports(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """The facade's `if TYPE_CHECKING:` block: public name -> (module, name in that module), or for a
    whole sub-module, public name -> (its dotted path, "")."""
    blocks = [node for node in tree.body if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
              and node.test.id == "TYPE_CHECKING"]
    assert len(blocks) == 1, "alerts/__init__.py should have one `if TYPE_CHECKING:` block"
    found: dict[str, tuple[str, str]] = {}
    for node in blocks[0].body:
        assert isinstance(node, ast.ImportFrom) and node.level == 0 and node.module, \
            f"line {node.lineno}: only `from alerts.x import y` belongs in the TYPE_CHECKING block"
        for alias in node.names:
            public = alias.asname or alias.name
            assert public not in found, f"line {node.lineno}: {public} is imported twice"
            found[public] = (node.module, alias.name)
    return found


def test_the_facade_types_what_it_exports():
    """alerts/__init__.py names everything twice: `_export(...)` for the lazy runtime lookup, and imports under
    `if TYPE_CHECKING:` for mypy and editors. Checked on the source, so the typing half cannot drift: the same
    names, each bound to the same object (a sub-module in `_MODULES` is the module itself)."""
    import importlib

    import alerts

    typed = _type_checking_imports(ast.parse((ROOT / "alerts" / "__init__.py").read_text(encoding="utf-8")))
    runtime = {**alerts._EXPORTS, **{name: (path, "") for name, path in alerts._MODULES.items()}}
    untyped, unexported = sorted(set(runtime) - set(typed)), sorted(set(typed) - set(runtime))
    assert not untyped and not unexported, \
        f"exported but not imported under TYPE_CHECKING: {untyped}; imported there but not exported: {unexported}"
    assert sorted(runtime) == alerts.__all__
    wrong = []
    for public, (module, inner) in typed.items():
        if public in alerts._MODULES:   # `from alerts.tickets import sla`: the sub-module alerts.tickets.sla
            target = importlib.import_module(f"{module}.{inner}")
            ok = target is importlib.import_module(alerts._MODULES[public])
        else:
            target = getattr(importlib.import_module(module), inner)
            ok = target is getattr(alerts, public)
        if not ok:
            wrong.append(f"{public}: TYPE_CHECKING imports {module}.{inner}, _export() gives {runtime[public]}")
    assert not wrong, "\n".join(wrong)
