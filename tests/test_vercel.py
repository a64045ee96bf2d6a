"""The deployment on Vercel's Python runtime: the entry point pyproject.toml names is
found and imported the way Vercel does it, serves /docs and /openapi.json, and
vercel.json agrees with the app and the settings. No network, no database.

The rules checked are @vercel/python 25 (entrypoint.ts: `[tool.vercel] entrypoint`
is read first, as `module.path:variable`, resolved to `module/path.py` or
`module/path/__init__.py`) and vercel-runtime 0.24 (vc_init.py: the file is
loaded with `spec_from_file_location(module, path)` with the project root first
on sys.path, and the variable taken from it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cascadian.config import Settings

ROOT = Path(__file__).resolve().parents[1]
VERCEL = json.loads((ROOT / "vercel.json").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# What the runtime does at a cold start, in a fresh interpreter: no test fixture, no
# installed cascadian ahead of the project root, an environment with no database.
BOOT = """
import asyncio, importlib.util, json, sys
root, module, path, variable = sys.argv[1:5]
sys.path.insert(0, root)
spec = importlib.util.spec_from_file_location(module, path)
mod = importlib.util.module_from_spec(spec)
sys.modules[module] = mod
spec.loader.exec_module(mod)
app = getattr(mod, variable)
import httpx
async def get(paths):
    transport = httpx.ASGITransport(app=app)  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="https://x.vercel.app") as c:
        return {p: (await c.get(p)).status_code for p in paths}
statuses = asyncio.run(get(["/docs", "/openapi.json", "/console/sign-in",
                            "/console/static/console.css"]))
print(json.dumps({"type": type(app).__module__ + "." + type(app).__name__,
                  "cascadian": sys.modules["cascadian"].__file__, "statuses": statuses}))
"""


def entrypoint() -> tuple[str, str, Path]:
    """(module, variable, file) as @vercel/python resolves `[tool.vercel] entrypoint`."""
    value = PYPROJECT["tool"]["vercel"]["entrypoint"]
    match = re.fullmatch(r"([A-Za-z_][\w.]*)\s*:\s*([A-Za-z_]\w*)", value)
    assert match, value
    module, variable = match.groups()
    relative = module.replace(".", "/")
    candidates = [ROOT / f"{relative}.py", ROOT / relative / "__init__.py"]
    [found] = [c for c in candidates if c.is_file()]
    return module, variable, found


@pytest.mark.slow
def test_the_entry_point_imports_the_app_as_vercel_would_and_serves_the_docs(
    tmp_path: Path,
) -> None:
    module, variable, path = entrypoint()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["CASCADIAN_DATA_DIR"] = str(tmp_path / "data")  # must stay untouched
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", BOOT, str(ROOT), module, str(path), variable],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    booted = json.loads(result.stdout.strip().splitlines()[-1])
    assert booted["type"] == "fastapi.applications.FastAPI"
    assert booted["cascadian"] == str(ROOT / "cascadian" / "__init__.py")
    assert booted["statuses"] == {
        "/docs": 200,
        "/openapi.json": 200,
        "/console/sign-in": 200,  # the console and its own CSS, from the same function
        "/console/static/console.css": 200,
    }
    assert not (tmp_path / "data").exists()


def test_vercel_json_configures_the_detected_function_without_legacy_routing() -> None:
    _, _, path = entrypoint()
    assert list(VERCEL["functions"]) == [path.relative_to(ROOT).as_posix()]
    # The FastAPI preset routes every path to the app; rewrites, routes and builds
    # are the legacy api/ layout, and crons the legacy Cron Jobs.
    assert not {"rewrites", "routes", "builds", "crons"} & set(VERCEL)


def test_max_duration_leaves_the_tick_budget_room_to_record() -> None:
    [function] = VERCEL["functions"].values()
    budget = Settings.model_fields["tick_budget_seconds"].default
    # The budget is ours (no claim after budget - strategy timeout); maxDuration is
    # Vercel's hard stop, and must leave time to write outcomes and the ledger.
    assert budget + 30 <= function["maxDuration"] <= 800


def test_the_schedule_calls_the_cron_route_with_a_method_it_serves() -> None:
    from cascadian.web.app import create_app

    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    paths = app.openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    schedules: list[dict[str, Any]] = VERCEL["schedules"]
    assert schedules
    for schedule in schedules:
        # The shape `vercel` 64's validate-config.ts accepts for a path target.
        assert re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]*", schedule["name"])
        assert set(schedule) <= {"name", "schedule", "timezone", "jitter", "path", "requestMethod"}
        assert len(schedule["schedule"].split()) == 5
        assert (schedule["requestMethod"], schedule["path"]) in served
