"""The embedded PostgreSQL a command starts is stopped when the command ends: however a
process manager stops it (SIGTERM, SIGINT), and after an earlier holder was killed.

Real processes on a data directory of their own; each waits for the state it needs
by polling (bounded), never by sleeping a fixed time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow

CRON = "lifecycle-cron-secret-0123456789"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory outside pytest's own temporary folder: pytest makes that one
    private to root at every session start, and the embedded server runs as another
    user; no server outlives its test."""
    where = Path(tempfile.mkdtemp(prefix="cascadian-lifecycle-"))
    try:
        yield where / "data"
    finally:
        with contextlib.suppress(psutil.Error, OSError, ValueError, IndexError):
            psutil.Process(_postmaster_pid(where / "data")).terminate()
        shutil.rmtree(where, ignore_errors=True)


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "SUPABASE_", "NEXT_PUBLIC_SUPABASE"))
    }
    return {
        **env,
        "CASCADIAN_DATA_DIR": str(data_dir),
        "ENVIRONMENT": "development",
        "CRON_SECRET": CRON,
    }


def _cascadian(*args: str) -> list[str]:
    return [sys.executable, "-m", "cascadian", *args]


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])


def _wait_until(condition: object, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not true within {seconds} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
    except httpx.HTTPError:
        return False
    return True


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_serve_and_demo_stopped_by_a_signal_stop_their_embedded_postgres(
    tmp_path: Path, data_dir: Path, stop: signal.Signals, command: str
) -> None:
    port = _free_port()
    made = subprocess.run(  # noqa: S603 - our own command line
        _cascadian("migrate"), env=_env(data_dir), cwd=tmp_path, capture_output=True, timeout=120
    )
    assert made.returncode == 0, made.stderr.decode()
    proc = subprocess.Popen(  # noqa: S603 - our own command line
        _cascadian(command, "--port", str(port), *(["--every", "1"] if command == "demo" else [])),
        env=_env(data_dir),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until(lambda: _answers(port))
        # A tick through the cron route, as a scheduler's would be, before the signal.
        ticked = httpx.get(
            f"http://127.0.0.1:{port}/api/cron/strategy-executor",
            headers={"Authorization": f"Bearer {CRON}"},
            timeout=60,
        )
        assert ticked.status_code == 200, ticked.text
        postmaster = _postmaster_pid(data_dir)
        assert psutil.pid_exists(postmaster)

        proc.send_signal(stop)
        code = proc.wait(timeout=60)

        assert code in (0, 130)
        _wait_until(lambda: not psutil.pid_exists(postmaster), seconds=10)
    finally:
        proc.kill()


def test_a_killed_holder_left_in_the_handle_file_does_not_keep_the_server_running(
    tmp_path: Path, data_dir: Path
) -> None:
    env = _env(data_dir)
    first = subprocess.run(  # noqa: S603 - our own command line
        _cascadian("migrate"), env=env, cwd=tmp_path, capture_output=True, timeout=120
    )
    assert first.returncode == 0, first.stderr.decode()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    handles = data_dir / "pg" / ".handle_pids.json"
    handles.write_text(json.dumps([dead.pid]))  # what a SIGKILLed command leaves behind

    again = subprocess.run(  # noqa: S603 - our own command line
        _cascadian("migrate"), env=env, cwd=tmp_path, capture_output=True, timeout=120
    )

    assert again.returncode == 0, again.stderr.decode()
    pid_file = data_dir / "pg" / "postmaster.pid"
    assert not pid_file.exists() or not psutil.pid_exists(_postmaster_pid(data_dir))
    assert json.loads(handles.read_text()) == []
