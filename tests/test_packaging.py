"""The built wheel carries what an installed cascadian needs: every module, and the
migrations (from the top-level migrations/ folder), so `cascadian migrate` works
from a wheel install, run from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the project's files (the build writes beside them)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("cascadian", "migrations"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(  # noqa: S603 - our own interpreter and pip
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("cascadian-*.whl")
    return built


def test_the_wheel_ships_every_migration_byte_for_byte(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        shipped = {
            Path(n).name: whl.read(n)
            for n in whl.namelist()
            if n.startswith("cascadian/migrations/")
        }
    expected = {f.name: f.read_bytes() for f in (ROOT / "migrations").glob("*.sql")}
    assert expected and shipped == expected


def test_the_wheel_ships_every_module(wheel: Path) -> None:
    # The packages are listed in pyproject.toml: a new subpackage must be added there.
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "cascadian").rglob("*.py")}
    assert modules - names == set()


def test_an_installed_wheel_migrates_from_another_directory(
    wheel: Path, tmp_path: Path, admin_url: str
) -> None:
    site = tmp_path / "site"
    subprocess.run(  # noqa: S603 - our own interpreter and pip
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    name = "cascadian_wheel_test"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy first on the path; its dependencies from this environment.
    env = os.environ | {
        "PYTHONPATH": str(site),
        "DATABASE_URL": psycopg.conninfo.make_conninfo(admin_url, dbname=name),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cascadian", "migrate"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"with the migrations in {site / 'cascadian' / 'migrations'}" in result.stderr
    count = len(list((ROOT / "migrations").glob("*.sql")))
    assert result.stdout.startswith(f"applied {count} migration(s): 001_seed_schema.sql")
    assert not (elsewhere / ".cascadian").exists()


def test_the_wheel_ships_the_consoles_templates_css_and_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    console = ROOT / "cascadian" / "web" / "console"
    assets = {
        p.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for p in (console / folder).iterdir()
    }
    assert {"cascadian/web/console/static/console.css"} <= assets
    assert assets - names == set()
