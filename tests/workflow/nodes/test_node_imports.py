"""No node module imports another node module: what node types share lives in a
common module (workflow/nodes/common.py, http_fetch.py; workflow/original/nodes/common.py).

A node module is one the `cascadian.nodes` entry points in pyproject.toml name. The
check reads every module of the node folders with `ast`, so it needs no import.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
NODE_FOLDERS = ("cascadian/workflow/nodes", "cascadian/workflow/original/nodes")


def node_modules(root: Path) -> set[str]:
    """The modules the `cascadian.nodes` entry points load."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    targets = project["project"]["entry-points"]["cascadian.nodes"].values()
    return {target.split(":")[0] for target in targets}


def imported_modules(source: str, module: str) -> set[str]:
    """Every module `source` (the text of `module`) imports, relative imports resolved;
    for `from package import name`, both the package and `package.name`."""
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def sibling_imports(root: Path) -> dict[str, set[str]]:
    """For each module of the node folders, the node modules (not itself) it imports."""
    nodes = node_modules(root)
    offences: dict[str, set[str]] = {}
    for folder in NODE_FOLDERS:
        for path in sorted((root / folder).glob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            bad = (imported_modules(path.read_text(), module) & nodes) - {module}
            if bad:
                offences[module] = bad
    return offences


def test_no_node_module_imports_another_node_module() -> None:
    assert sibling_imports(ROOT) == {}


def test_every_node_module_the_entry_points_name_is_in_a_node_folder() -> None:
    nodes = node_modules(ROOT)
    assert len(nodes) > 10
    for module in nodes:
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.is_file() and str(path.parent.relative_to(ROOT)) in NODE_FOLDERS, module


@pytest.mark.parametrize(
    "source",
    [
        "from cascadian.workflow.nodes.filter import collect_items",
        "import cascadian.workflow.nodes.filter",
        "from cascadian.workflow.nodes import filter",
        "from .filter import collect_items",
        "from . import filter",
        "def later():\n    from cascadian.workflow.nodes.filter import FILTER",
    ],
)
def test_the_check_sees_a_node_module_imported_in_any_spelling(source: str) -> None:
    imported = imported_modules(source, "cascadian.workflow.nodes.transform")
    assert "cascadian.workflow.nodes.filter" in imported


def test_a_common_module_is_not_a_node_module() -> None:
    imported = imported_modules(
        "from .common import collect_items", "cascadian.workflow.nodes.transform"
    )
    assert imported & node_modules(ROOT) == set()
