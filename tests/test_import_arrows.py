"""The package's import arrows, checked from the source: nothing imports upward.

Every module's imports are read with `ast` (those under TYPE_CHECKING and inside
functions too) and each arrow between two families must be in MAY_IMPORT. The
core (cascadian/*.py) sees only itself and outbound/; the families see the core,
never the composition root; only bootstrap.py, web/ and cli/ put the pieces
together. A new folder needs a line here before its first import passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cascadian"
MAX_CORE_MODULES = 18

# Who may import whom, by family (a folder of cascadian/; "core" for the modules at
# the top, but for the composition root and `python -m`). A family may always
# import itself. A dotted name allows that one module, not its whole family.
MAY_IMPORT: dict[str, set[str]] = {
    "core": {"outbound"},
    # Outgoing-HTTP safety: nothing of the engine, only the error root.
    "outbound": {"cascadian.errors", "cascadian.data"},
    "store": {"core"},
    "workflow": {"core", "outbound"},
    "observers": {"core", "outbound"},
    "trading": {"core"},
    "console": {"core"},
    # The audit log's reads (the changes write it in SQL).
    "audit": {"core"},
    # What operators do across strategies: the runs list, bulk changes.
    "operators": {"core"},
    # Backtests run the engine (workflow) on history, filling with the trading book.
    "backtests": {"core", "workflow", "trading"},
    # Market events: the market client (workflow/market/) and the core's ports.
    "triggers": {"core", "workflow"},
    # Who is calling: users' tokens (verified against keys fetched through outbound/)
    # and their shares.
    "auth": {"core", "outbound"},
    "bootstrap": {
        "core",
        "outbound",
        "store",
        "workflow",
        "observers",
        "trading",
        "console",
        "backtests",
        "operators",
        "triggers",
        "auth",
    },
    "web": {
        "audit",
        "bootstrap",
        "core",
        "outbound",
        "workflow",
        "observers",
        "trading",
        "console",
        "backtests",
        "operators",
        "triggers",
        "auth",
    },
    "cli": {
        "audit",
        "bootstrap",
        "core",
        "outbound",
        "store",
        "workflow",
        "web",
        "backtests",
        "trading",
        "operators",
        "triggers",
    },
    "main": {"cli"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def family(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return {"bootstrap": "bootstrap", "__main__": "main"}.get(parts[1], "core")


def imported(source: str, module: str, is_package: bool) -> set[str]:
    """The cascadian modules `source` (the text of `module`) imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package this module is in
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "cascadian":  # `from cascadian import logs` names modules
                found.update(f"cascadian.{a.name}" for a in node.names)
            else:
                found.add(base)
    return {name for name in found if name == "cascadian" or name.startswith("cascadian.")}


def allowed(importer: str, target: str) -> bool:
    source, destination = family(importer), family(target)
    if source == destination:
        return True
    permitted = MAY_IMPORT[source]
    return destination in permitted or target in permitted


def wrong_arrows(path: Path, source: str) -> list[str]:
    module = module_name(path)
    return [
        f"{module} -> {target}"
        for target in sorted(imported(source, module, path.name == "__init__.py"))
        if not allowed(module, target)
    ]


def test_nothing_in_the_package_imports_upward() -> None:
    wrong = [
        arrow
        for path in sorted(PACKAGE.rglob("*.py"))
        for arrow in wrong_arrows(path, path.read_text(encoding="utf-8"))
    ]
    assert wrong == []


def test_the_check_catches_the_tick_importing_an_observer_even_for_types_only() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from cascadian.observers.alerts import Alerts\n"
    )
    assert wrong_arrows(PACKAGE / "tick.py", source) == [
        "cascadian.tick -> cascadian.observers.alerts"
    ]


def test_the_check_catches_outbound_reaching_into_the_engine_relatively() -> None:
    source = "from ..workflow.node_api import NodeError\nfrom .retry import RetryPolicy\n"
    assert wrong_arrows(PACKAGE / "outbound" / "ssrf.py", source) == [
        "cascadian.outbound.ssrf -> cascadian.workflow.node_api"
    ]


def test_the_check_catches_config_importing_the_engine() -> None:
    source = "from cascadian import workflow\nfrom cascadian.outbound import allowlist\n"
    assert wrong_arrows(PACKAGE / "config.py", source) == ["cascadian.config -> cascadian.workflow"]


def test_every_folder_of_the_package_has_its_arrows_in_the_table() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - set(MAY_IMPORT) == set()


def test_the_core_at_the_top_of_the_package_stays_small() -> None:
    core = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(core) <= MAX_CORE_MODULES, core
