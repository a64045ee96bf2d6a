"""What the `cascadian` commands share: where they print, and how they fail.

Results go to stdout (`console`), notices and errors to stderr (`err`), so
`cascadian tick --json | jq` only ever sees JSON. Every error is one line that
says what went wrong and what to do, and exits non-zero: settings errors exit 2,
everything else 1. No traceback reaches an operator: `OneLineErrors` turns any
exception a command lets escape into that line too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.text import Text
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from cascadian import logs
from cascadian.bootstrap import database_url
from cascadian.clock import as_utc
from cascadian.config import Settings
from cascadian.data import Actor
from cascadian.errors import CascadianError, ConfigurationError
from cascadian.logs import one_line
from cascadian.store import embedded

# Who acts at a shell: the operator (the audit log says `cli`, with no address).
CLI_ACTOR = Actor.operator("cli")

console = Console(soft_wrap=True)  # a result line stays one line; tables still fit
# soft_wrap: an error stays one line however narrow the terminal.
err = Console(stderr=True, soft_wrap=True)

CONFIG_EXIT = 2


def note(message: str) -> None:
    """A notice on stderr (not a result, not an error)."""
    err.print(Text(one_line(message)))


def error_line(message: str, fix: str | None = None) -> None:
    text = Text.assemble(("error: ", "bold red"), one_line(message))
    if fix:
        text.append(f"; {fix}")
    err.print(text)


def configure_logging(
    level: int = logging.WARNING, *, with_time: bool = False, log_format: str = "text"
) -> None:
    """One stderr handler for every logger, one line per record (text, or JSON with
    CASCADIAN_LOG_FORMAT=json); httpx's line per request and the embedded
    PostgreSQL's start-up steps are kept out below WARNING."""
    logs.configure(level, log_format, with_time=with_time)


@contextmanager
def cli_logging() -> Iterator[None]:
    """configure_logging for one command, and the logging as it was afterwards (the
    process usually exits then; a test's does not)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in logs.CHATTY}
    configure_logging()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in chatty.items():
            logging.getLogger(name).setLevel(was)


def fail(message: str, fix: str | None = None, code: int = 1) -> NoReturn:
    """Print the one-line error and exit with `code`."""
    error_line(message, fix)
    raise typer.Exit(code)


def parse_instant(text: str, option: str) -> datetime:
    """An ISO date or time from the command line; without a zone it is UTC."""
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        fail(f"{option} {text[:40]!r} is not an ISO date or time", "e.g. 2026-12-07T18:00:00Z")


def _setting_problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_settings(*, opens_database: bool = True, may_create: bool = False) -> Settings:
    """The settings, or one line saying which variable to fix and exit 2.

    The embedded PostgreSQL lives in `.cascadian` under the directory a command runs
    in. From a subdirectory the nearest one above is used (as git finds its
    repository). Only a command that sets a database up (`may_create`: migrate,
    demo) creates one, saying where first; any other stops, naming the directory,
    rather than opening an empty database.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(e) for e in exc.errors())
        fail(
            f"configuration error: {problems}",
            "fix it in the environment or .env",
            CONFIG_EXIT,
        )
    except SettingsError as exc:
        fail(f"configuration error: {exc}", "fix it in the environment or .env", CONFIG_EXIT)
    if opens_database and uses_embedded(settings) and not embedded.exists(settings.data_dir):
        settings = _embedded_home(settings, may_create)
    return settings


def uses_embedded(settings: Settings) -> bool:
    return settings.database_url is None and not settings.uses_supabase


def _embedded_home(settings: Settings, may_create: bool) -> Settings:
    """Where the embedded PostgreSQL is, when it is not in the configured data dir."""
    if "data_dir" not in settings.model_fields_set and not settings.data_dir.is_absolute():
        for parent in Path.cwd().parents:
            if embedded.exists(parent / settings.data_dir):
                return settings.model_copy(update={"data_dir": parent / settings.data_dir})
    where = embedded.data_path(settings.data_dir)
    if not may_create:
        fail(
            f"no embedded PostgreSQL in {where}",
            "run `cascadian migrate` (or `cascadian demo`) in the directory that should "
            "hold it, or set CASCADIAN_DATA_DIR or DATABASE_URL",
            CONFIG_EXIT,
        )
    note(
        f"creating a new embedded PostgreSQL in {where} "
        "(set DATABASE_URL, or CASCADIAN_DATA_DIR, to use another database)"
    )
    return settings


def cli_database_url(settings: Settings) -> str:
    try:
        return database_url(settings)
    except ConfigurationError as exc:
        fail(f"configuration error: {exc}", code=CONFIG_EXIT)


class OneLineErrors(TyperGroup):
    """The command group that reports every failure as one line on stderr.

    Usage errors (a wrong option) exit 2 as click's do; our own errors print
    their message; an unexpected exception prints its type and message, and
    asks for a report, instead of a traceback.
    """

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = 0
        try:
            with cli_logging():
                result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelpError as exc:  # `cascadian` alone: the help, not an error
            exc.show()
            code = exc.exit_code
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "cascadian"
            error_line(exc.format_message(), f"see `{command} --help`")
            code = exc.exit_code
        except typer.TyperException as exc:
            error_line(exc.format_message())
            code = exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            error_line("interrupted")
            code = 130
        except CascadianError as exc:
            error_line(str(exc))
            code = 1
        except Exception as exc:
            error_line(
                f"unexpected {type(exc).__name__}: {exc}",
                "this is a bug in cascadian: please report it with the command you ran",
            )
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code
