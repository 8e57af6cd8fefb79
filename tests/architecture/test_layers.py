"""The import rules of the README's architecture section, checked on the
source: imports go one way (down), `serving` and `projects` never import each
other, nothing below `tasks` imports Prefect, and nothing anywhere imports the
bare top-level names that would resolve to a user's own `tasks.py` or
`tracking/` folder instead of ours."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BARE_NAMES = ("tracking", "serving", "projects", "flows", "tasks")

# Layer of each package, bottom (0) to top; a module may import its own layer
# and lower ones. Same-rank layers are independent: neither imports the other.
LAYERS: dict[str, int] = {
    "mlcadence.settings": 0,
    "mlcadence.errors": 0,
    "mlcadence.version": 0,
    "mlcadence.tracking": 1,
    "mlcadence.containers": 2,
    "mlcadence.serving": 3,
    "mlcadence.projects": 3,
    "mlcadence.pipeline": 4,
    "mlcadence.tasks": 5,
    "mlcadence.flows": 6,
    "mlcadence.cli": 7,
}
PREFECT_FREE_BELOW = LAYERS["mlcadence.tasks"]
# "module:attribute" strings in tables (backends by scheme, deploy targets) are
# imports made later; they obey the same rule.
LAZY_IMPORT = re.compile(r"^(mlcadence(?:\.\w+)+):\w+$")


def source_modules() -> dict[str, Path]:
    """Installed module name → source file, from pyproject's package-dir map."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    modules: dict[str, Path] = {}
    for package, folder in config["package-dir"].items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            modules.setdefault(name, path)
    return modules


def layer_of(module: str) -> str | None:
    matches = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return max(matches, key=len) if matches else None


def imported_names(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module an `import` in the file names, at any depth (function-level
    imports count too), relative imports resolved against `module`, plus the
    modules named by "module:attribute" strings."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # `from mlcadence import tracking` names a subpackage, not an attribute.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            lazy = LAZY_IMPORT.match(node.value)
            if lazy:
                found.append((node.lineno, lazy.group(1)))
    return found


MODULES = source_modules()


def test_every_source_module_belongs_to_a_layer():
    unplaced = sorted(m for m in MODULES if m != "mlcadence" and layer_of(m) is None)
    assert not unplaced, f"add these to LAYERS (and the README's architecture): {unplaced}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "mlcadence"))
def test_imports_go_down_only(module):
    own = layer_of(module)
    wrong = {}
    for line, name in imported_names(MODULES[module], module):
        target = layer_of(name)
        if target is None or target == own:
            continue
        if LAYERS[target] >= LAYERS[own]:
            wrong.setdefault((line, target), f"line {line}: {own} imports {name} ({target})")
    assert not wrong, "\n".join(wrong.values())


@pytest.mark.parametrize(
    "module",
    sorted(m for m in MODULES if (layer_of(m) and LAYERS[layer_of(m)] < PREFECT_FREE_BELOW)),
)
def test_library_layers_never_import_prefect(module):
    hits = [
        f"line {line}: {name}"
        for line, name in imported_names(MODULES[module], module)
        if name == "prefect" or name.startswith("prefect.")
    ]
    assert not hits, f"{module} imports Prefect: {hits}"


def python_files_of_the_repository() -> list[Path]:
    skip = {".git", "__pycache__", "build", "dist", ".venv"}
    return [
        p
        for p in ROOT.rglob("*.py")
        if not skip.intersection(p.relative_to(ROOT).parts) and ".egg-info" not in str(p)
    ]


def bare_imports_in_code_strings(text: str) -> list[str]:
    """Bare imports in Python held in a string (scripts run with `python -c`,
    files a test writes): `import os, tracking` or `from tasks import x`."""
    found = []
    for line in text.splitlines():
        words = line.strip()
        if words.startswith("import "):
            names = [n.strip().split(" as ")[0] for n in words[len("import ") :].split(",")]
        elif words.startswith("from ") and " import " in words:
            names = [words[len("from ") :].split(" import ")[0].strip()]
        else:
            continue
        found += [n for n in names if n.split(".")[0] in BARE_NAMES]
    return found


def test_nothing_imports_the_bare_top_level_names():
    wrong = []
    for path in python_files_of_the_repository():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = bare_imports_in_code_strings(node.value)
            else:
                continue
            for name in names:
                if name.split(".")[0] in BARE_NAMES:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not wrong, "import these as mlcadence.<name>:\n" + "\n".join(wrong)


def test_bare_imports_in_scripts_held_in_strings_are_seen():
    # Built from pieces so that this file itself holds no such string.
    script = (
        "import argparse, os, " + "tracking\nfrom " + "tasks.data import x\nimport mlcadence.tasks"
    )
    assert bare_imports_in_code_strings(script) == ["tracking", "tasks.data"]


def test_the_layer_check_sees_function_level_and_table_imports(tmp_path):
    """The checker itself: an import inside a function and a "module:attr"
    table entry in a tracking module are both seen as imports of serving."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f():\n    from mlcadence.serving import server\n"
        "TABLE = {'x': 'mlcadence.projects.runner:run'}\n"
    )
    names = {n for _, n in imported_names(bad, "mlcadence.tracking.bad")}
    assert {"mlcadence.serving", "mlcadence.projects.runner"} <= names
    assert LAYERS[layer_of("mlcadence.serving.server")] > LAYERS[layer_of("mlcadence.tracking.bad")]
