"""How the command line fails: one line on stderr that says what to do, a non-zero
exit, never a traceback, and nothing on stdout that a script would parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cascadian.cli import main as cli_main
from cascadian.cli.common import load_settings
from cascadian.cli.main import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def no_configured_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def the_error(stderr: str) -> str:
    """The one error line; fails if there is more than one, or a traceback."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:9/none", "postgresql://[bad", "host=h port=not-a-port"],
    ids=["unreachable", "malformed-url", "malformed-keywords"],
)
def test_migrate_against_a_database_it_cannot_reach_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert result.stdout == ""
    line = the_error(result.stderr)
    assert line.startswith("error: cannot connect to the database: ")
    assert line.endswith("check DATABASE_URL, and that the database server is running")


def test_a_comma_separated_allow_list_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASCADIAN_HTTP_ALLOWLIST", " api.internal , 10.0.0.0/8,,")
    assert load_settings(opens_database=False).http_allowlist == ["api.internal", "10.0.0.0/8"]
    monkeypatch.setenv("CASCADIAN_HTTP_ALLOWLIST", '["api.internal", "10.0.0.0/8"]')
    assert load_settings(opens_database=False).http_allowlist == ["api.internal", "10.0.0.0/8"]


@pytest.mark.parametrize("value", ['["api.internal"', "[1, 2]", '{"a": 1}'])
def test_a_malformed_allow_list_is_one_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CASCADIAN_HTTP_ALLOWLIST", value)
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    line = the_error(result.stderr)
    assert line.startswith("error: configuration error: CASCADIAN_HTTP_ALLOWLIST: must be a JSON")


def test_a_usage_error_is_one_line_pointing_at_the_help() -> None:
    result = runner.invoke(app, ["tick", "--jsn"])
    assert result.exit_code == 2
    assert "No such option: --jsn" in the_error(result.stderr)
    assert the_error(result.stderr).endswith("tick --help`")


def test_an_unexpected_exception_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli_main, "_tick_once", broken)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    result = runner.invoke(app, ["tick"])
    assert result.exit_code == 1
    line = the_error(result.stderr)
    assert line.startswith("error: unexpected ZeroDivisionError: division by zero; this is a bug")


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"cascadian {version('cascadian')}\n"


def test_a_command_that_sets_a_database_up_says_where_it_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CASCADIAN_DATA_DIR", raising=False)
    load_settings(may_create=True)
    assert capsys.readouterr().err == (
        f"creating a new embedded PostgreSQL in {tmp_path.resolve() / '.cascadian'} "
        "(set DATABASE_URL, or CASCADIAN_DATA_DIR, to use another database)\n"
    )
    (tmp_path / ".cascadian" / "pg").mkdir(parents=True)
    load_settings()
    assert capsys.readouterr().err == ""  # it exists: nothing to announce


def test_any_other_command_stops_rather_than_create_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CASCADIAN_DATA_DIR", raising=False)
    result = runner.invoke(app, ["strategies", "list"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert f"no embedded PostgreSQL in {tmp_path.resolve() / '.cascadian'}" in line
    assert "cascadian migrate" in line
    assert not (tmp_path / ".cascadian").exists()


def test_from_a_subdirectory_the_nearest_embedded_database_above_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".cascadian" / "pg").mkdir(parents=True)
    below = tmp_path / "docs" / "deeper"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    monkeypatch.delenv("CASCADIAN_DATA_DIR", raising=False)
    settings = load_settings()
    assert settings.data_dir.resolve() == (tmp_path / ".cascadian").resolve()
    assert capsys.readouterr().err == ""
    assert not (below / ".cascadian").exists()


def test_an_explicit_data_dir_is_never_looked_for_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".cascadian" / "pg").mkdir(parents=True)
    below = tmp_path / "sub"
    below.mkdir()
    monkeypatch.chdir(below)
    monkeypatch.setenv("CASCADIAN_DATA_DIR", ".cascadian")
    with pytest.raises(typer.Exit):
        load_settings()


def test_config_alone_never_announces_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "not created yet" in result.stdout
