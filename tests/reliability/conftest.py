"""Fault injection: real server processes, a database that can be stopped, and a scan of
every log line for the secrets the suite runs with.

Every server process started here, and every test in this package, runs with the
known secrets below; everything they log (at DEBUG) is scanned for them, and the
session fails at teardown if one ever appears.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

CRON_SECRET = "cron-Secret-7f3a9c1e5b2d4f60a8e1"
ADMIN_API_KEY = "admin-Key-2b8e6d4c0a9f7e5d3c1b"
DB_PASSWORD = "db-Pw-9d1c7e3a5f2b8d4e6a0c"
SECRETS = (CRON_SECRET, ADMIN_API_KEY, DB_PASSWORD)

TICK = "/api/cron/strategy-executor"

# Runs a server with every logger at DEBUG, so the secret scan sees all it could print.
_SERVE = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, "
    "format='%(levelname)s %(name)s %(message)s'); "
    "from cascadian.cli.main import app; app()"
)


def bearer(secret: str = CRON_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def with_password(url: str, password: str = DB_PASSWORD) -> str:
    """The URL with a password; the test servers trust local connections, so any works."""
    return psycopg.conninfo.make_conninfo(url, password=password)


class SecretScan(logging.Handler):
    """A root log handler that remembers every record mentioning a secret."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records = 0
        self.leaks: list[str] = []
        self.files: list[Path] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        try:
            text = self.format(record)
        except Exception as exc:  # a broken log call must not hide a leak
            text = f"{record.msg!r} {record.args!r} ({exc})"
        if any(s in text for s in SECRETS):
            self.leaks.append(text[:500])

    def file_leaks(self) -> list[str]:
        found = []
        for path in self.files:
            text = path.read_text(errors="replace") if path.exists() else ""
            found += [f"{path.name}: {line[:300]}" for line in text.splitlines() if _leaks(line)]
        return found


def _leaks(text: str) -> bool:
    return any(s in text for s in SECRETS)


@pytest.fixture(scope="session")
def secret_scan() -> Iterator[SecretScan]:
    handler = SecretScan()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    leaks = handler.leaks + handler.file_leaks()
    for secret in SECRETS:  # name the line, not the secret
        leaks = [line.replace(secret, "<SECRET>") for line in leaks]
    assert not leaks, f"a secret appeared in the logs of the reliability run: {leaks[:5]}"


@pytest.fixture(autouse=True)
def _scanned(secret_scan: SecretScan) -> None:
    """Every test in this package runs under the secret scan."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `cascadian serve` process on a free localhost port."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def serve(tmp_path: Path, secret_scan: SecretScan) -> Iterator[Callable[..., Server]]:
    """Start servers: serve(database_url, **env) -> Server; all are killed at the end."""
    servers: list[Server] = []

    def start(database_url: str, **env: Any) -> Server:
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        secret_scan.files.append(log)
        proc_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CASCADIAN_", "CRON_", "ADMIN_", "DATABASE_"))
        }
        proc_env |= {
            "DATABASE_URL": with_password(database_url),
            "CRON_SECRET": CRON_SECRET,
            "ADMIN_API_KEY": ADMIN_API_KEY,
            "ENVIRONMENT": "production",
            "CASCADIAN_DATA_DIR": str(tmp_path / "unused-embedded"),
            # As in tests/conftest.py: one test user owns every strategy here.
            "CASCADIAN_OWNER_MAX_RUNS": "0",
        } | {k: str(v) for k, v in env.items()}
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-c", _SERVE, "serve", "--port", str(port)],
                env=proc_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(proc, f"http://127.0.0.1:{port}", log, proc_env)
        servers.append(server)

        def answers() -> bool:
            if not server.alive():
                raise AssertionError(f"the server exited:\n{server.output()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(server.base_url + "/openapi.json", timeout=1).status_code == 200
            return False

        wait_until(answers, 30, "the server to answer")
        return server

    yield start
    for server in servers:
        server.kill()


def count(conn: psycopg.Connection[Any], query: str, *params: Any) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])
