"""`cascadian config`: every effective setting, where it came from, and no secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cascadian.cli.config_view import env_names, rows
from cascadian.cli.main import app
from cascadian.config import Settings

runner = CliRunner(env={"COLUMNS": "200"})
CRON = "cron-secret-that-must-not-print"
PASSWORD = "db-password-that-must-not-print"
ADMIN = "admin-key-from-dotenv-not-printed"


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL", "ADMIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRON_SECRET", CRON)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{PASSWORD}@db.example.com:5432/prod")
    monkeypatch.setenv("CASCADIAN_CLAIM_LIMIT", "40")
    (tmp_path / ".env").write_text(f"ADMIN_API_KEY={ADMIN}\n")
    return tmp_path


def test_config_shows_each_setting_with_its_source_and_hides_secrets(configured: Path) -> None:
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for secret in (CRON, PASSWORD, ADMIN):
        assert secret not in out
    table = {r[0]: r[1:] for r in rows(Settings(), configured / ".env")}
    assert table["CRON_SECRET"] == ("set (hidden)", "environment")
    assert table["ADMIN_API_KEY"] == ("set (hidden)", ".env")
    assert table["DATABASE_URL"] == ("postgres db.example.com:5432/prod", "environment")
    assert table["CASCADIAN_CLAIM_LIMIT"] == ("40", "environment")
    assert table["CASCADIAN_LEASE_SECONDS"] == ("120.0", "default")
    assert "store: postgres db.example.com:5432/prod (DATABASE_URL)" in out


def test_config_lists_every_setting_under_its_variable() -> None:
    names = [r[0] for r in rows(Settings(_env_file=None))]  # type: ignore[call-arg]
    assert len(names) == len(Settings.model_fields)
    assert env_names("supabase_url") == ["SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL"]


def test_a_url_with_credentials_is_shown_without_them(
    configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASCADIAN_EXECUTOR", "http")
    monkeypatch.setenv("CASCADIAN_EXECUTOR_URL", "https://user:tok3n@exec.example.com/run")
    table = {r[0]: r[1] for r in rows(Settings())}
    assert table["CASCADIAN_EXECUTOR_URL"] == "https://[credentials hidden]@exec.example.com/run"
