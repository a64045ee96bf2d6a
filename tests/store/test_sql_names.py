"""Each SQL function is named in exactly one module of the package, the store module
of the port that calls it; nothing outside `cascadian/store/` names a SQL version.

A grep over the package's source, so a name copied into a second module (a
docstring, an error message, a mapping) is caught before it goes stale.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import cascadian

PACKAGE = Path(cascadian.__file__).parent
SQL_NAME = re.compile(r"\bcascadian_[a-z0-9_]+_v\d+\b")


def modules_naming() -> dict[str, set[str]]:
    """Each versioned SQL function name, and the modules (relative paths) naming it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in SQL_NAME.findall(path.read_text()):
            found[name].add(path.relative_to(PACKAGE).as_posix())
    return found


def test_the_package_names_its_sql_functions() -> None:
    found = modules_naming()
    assert "cascadian_claim_due_v6" in found and "cascadian_finish_runs_v6" in found


def test_each_sql_function_is_named_in_exactly_one_module() -> None:
    named_twice = {name: sorted(m) for name, m in modules_naming().items() if len(m) > 1}
    assert named_twice == {}


def test_no_module_outside_the_store_names_a_sql_function() -> None:
    outside = {
        name: sorted(m for m in modules if not m.startswith("store/"))
        for name, modules in modules_naming().items()
    }
    assert {name: m for name, m in outside.items() if m} == {}


def test_the_supabase_docs_name_the_versions_the_store_calls() -> None:
    """docs/supabase.md's table of store methods names, for each function it lists,
    the version the package calls, not one a later migration superseded."""
    docs = PACKAGE.parent / "docs" / "supabase.md"
    table = docs.read_text().split("## The Supabase store", 1)[1].split("\n\n", 3)[2]
    called = set(modules_naming())
    families = {name.rsplit("_v", 1)[0] for name in called}
    stale = sorted(
        name
        for name in SQL_NAME.findall(table)
        if name.rsplit("_v", 1)[0] in families and name not in called
    )
    assert stale == []
