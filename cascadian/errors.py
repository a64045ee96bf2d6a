"""Every error cascadian raises on purpose, under one root.

Failures that are part of normal operation are values (a failed RunResult, a
control result code); these are for the cases a caller must handle.
"""

from __future__ import annotations

from cascadian.data import ControlResult, GraphProblem


class CascadianError(Exception):
    """The root: anything cascadian raises on purpose."""


class ConfigurationError(CascadianError, RuntimeError):
    """The settings cannot work together; the message says what to set."""


class StoreUnavailable(CascadianError):
    """The database could not be reached or refused the call; nothing was written."""


class StoreRejected(StoreUnavailable):
    """The database refused this statement's data; sending it again would fail again."""


class StoreReplyMalformed(StoreUnavailable):
    """The database (or Supabase in front of it) answered in a shape we cannot read:
    the call may have been carried out; its answer is lost."""


class StoreAnswerLost(StoreUnavailable):
    """The call was sent, and what came back is not the database's own answer: a
    gateway's 5xx, or the connection dropped before any answer. The database may
    have carried it out (and committed); only reading back can tell."""


class NotFound(CascadianError, LookupError):
    """No strategy (or run) has this id."""


class Forbidden(CascadianError, PermissionError):
    """The caller is known but may not do this (a user turning the global kill switch
    on or off); nothing was written."""


class Conflict(CascadianError):
    """The strategy is not in a state that allows the change; nothing was written.
    `code` is the control function's result code (e.g. `already_paused`), when
    one refused it."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class InvalidInput(CascadianError, ValueError):
    """A value the caller sent cannot be used (a negative limit, a kill switch without
    a reason); the message says which, and nothing was written."""


class QuotaExceeded(CascadianError):
    """A user's share is used up (requests this minute, strategies, dry runs in
    flight), or the server's (backtest processes running at once); nothing was done.
    `retry_after`: seconds until it may be tried again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ScheduleError(CascadianError, ValueError):
    """A cron expression, time zone or interval that cannot be used."""


class GraphInvalid(CascadianError, ValueError):
    """A strategy's graph cannot run; `problems` lists every reason, each naming its
    node and field. Nothing was saved."""

    def __init__(self, problems: list[GraphProblem]) -> None:
        super().__init__(f"the graph has {len(problems)} problem(s)")
        self.problems = problems


class TriggerInvalid(CascadianError, ValueError):
    """A strategy's triggers cannot be used (a level outside (0, 1), a negative band, a
    token the CLOB does not know...); `problems` lists every reason, each naming its
    trigger (by position) and field. Nothing was saved."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        super().__init__(f"the triggers have {len(problems)} problem(s)")
        self.problems = problems  # (index, field, message)


class MarketUnavailable(CascadianError):
    """Polymarket could not be asked whether a trigger's token or market exists;
    nothing was saved, and trying again later may succeed."""


class NodeError(CascadianError):
    """A node failed in a way its author anticipated; the message is shown to users."""


class OutboundError(CascadianError):
    """An outgoing HTTP call (outbound/) was refused or failed; the message says why
    in words a user can act on. Nodes pass it on as a NodeError with the same message."""


class MigrationError(CascadianError):
    """A migration cannot be applied (or was edited after it was applied)."""


def excerpt(value: str, limit: int = 60) -> str:
    """`value` quoted for a message, cut to `limit` characters: an error never echoes
    a whole hostile input back (a 5 MB cron expression, say)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


_CONFLICTS: dict[str, str] = {
    "already_running": "the strategy is already running",
    "already_paused": "the strategy is already paused",
    "already_stopped": "the strategy is already stopped",
    "not_resumable": "only a paused, stopped or errored strategy can be resumed; use start",
    "run_in_flight": "a run of this strategy is in flight; try again when it has finished",
    "superseded": "this is an old version of the strategy; a newer version is the one that runs",
    "archived": "the strategy is archived: it never runs or changes again",
    "not_failed": "only a failed run can be re-run",
    "no_snapshot": "the run kept no copy of its graph, so it cannot be re-run as it was",
}


def raise_unless_ok(result: ControlResult) -> None:
    """Raise NotFound or Conflict (with its reason) for a result other than ok."""
    if result == "not_found":
        raise NotFound("strategy not found")
    if result == "run_not_found":
        raise NotFound("run not found")
    if result != "ok":
        raise Conflict(_CONFLICTS[result], result)


class BacktestInvalid(CascadianError, ValueError):
    """A backtest cannot run as asked (its window, its variables, the history, or nodes
    that would look ahead); `problems` names each node and field. Nothing ran."""

    def __init__(self, message: str, problems: list[GraphProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class BacktestCancelled(CascadianError):
    """A backtest was stopped before its last slot."""
