"""`serve` and `worker` configure logging, so the store line at start-up shows."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from typer.testing import CliRunner

from cascadian.cli import main
from cascadian.cli.serving import Server
from cascadian.logs import ContextFilter

runner = CliRunner()


@pytest.mark.parametrize(
    ("fmt", "formatter"), [("text", "OneLineFormatter"), ("json", "JsonFormatter")]
)
def test_serve_logs_at_info_in_the_chosen_format_for_uvicorn_too(
    monkeypatch: pytest.MonkeyPatch, fmt: str, formatter: str
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(server: Server, sockets: Any = None) -> None:
        root = logging.getLogger()
        seen["level"] = root.level
        seen["formatters"] = [type(h.formatter).__name__ for h in root.handlers]
        seen["filters"] = [type(f) for h in root.handlers for f in h.filters]
        seen["log_config"] = server.config.log_config
        server.started = True

    monkeypatch.setattr(Server, "run", fake_run)
    monkeypatch.setenv("CASCADIAN_LOG_FORMAT", fmt)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    result = runner.invoke(main.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert seen["level"] == logging.INFO
    assert seen["formatters"] == [formatter]
    assert ContextFilter in seen["filters"]
    assert seen["log_config"] is None  # uvicorn's lines go through the same handler


def test_worker_logs_at_info_in_the_chosen_format(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def fake_work(settings: Any, interval: float, grace: float, listen: bool) -> None:
        root = logging.getLogger()
        seen["level"] = root.level
        seen["formatters"] = [type(h.formatter).__name__ for h in root.handlers]

    monkeypatch.setattr(main, "_work", fake_work)
    monkeypatch.setenv("CASCADIAN_LOG_FORMAT", "json")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    result = runner.invoke(main.app, ["worker"])
    assert result.exit_code == 0, result.output
    assert seen == {"level": logging.INFO, "formatters": ["JsonFormatter"]}
