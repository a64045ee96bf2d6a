"""Bulk pause, resume or stop over a filtered selection of strategies: "resume
every strategy auto-paused in the last hour", "pause all of one owner's".

A selection is read first (one read-only SQL function, migrations/026), shown
(how many and which) and confirmed; then each strategy is changed through the
control service, exactly as one change from the API, the CLI or a console
button is, so each is its own transaction, with its own rules and its own
record. A strategy's result is `changed`, `unchanged` (it already was so) or
`refused` with the reason; one refusal never stops the others.

The selection's key (a digest of its ids) lets a confirmation say "exactly these":
an apply given the key of the selection that was shown is refused, changing
nothing, when the selection has changed since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Literal, get_args
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.control import ControlService
from cascadian.data import (
    Actor,
    BulkFilter,
    BulkOutcome,
    BulkSelection,
    BulkTarget,
    StrategyStatus,
    scope,
)
from cascadian.errors import Conflict, InvalidInput, NotFound, ScheduleError, StoreUnavailable
from cascadian.ports import OperatorStore

BulkAction = Literal["pause", "resume", "stop"]
ACTIONS: tuple[str, ...] = get_args(BulkAction)
# The most strategies one bulk change acts on; a larger selection is refused
# (narrow the filter), so one request stays within a function's time.
MAX_SELECTION = 500
# What the control functions answer when the strategy already is as asked.
ALREADY = {
    "pause": {"already_paused"},
    "stop": {"already_stopped"},
    "resume": {"already_running"},
}
STATUSES = ("draft", "active", "running", "paused", "stopped", "error", "auto-paused")


def selection_key(targets: list[BulkTarget]) -> str:
    """A short digest of the selection's ids, whatever their order."""
    ids = "\n".join(sorted(str(t.id) for t in targets))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def check(filter: BulkFilter) -> None:
    if filter.status is not None and filter.status not in STATUSES:
        raise InvalidInput(f"unknown status {filter.status[:40]!r}; one of {', '.join(STATUSES)}")
    within = filter.auto_paused_within_seconds
    if within is not None and not 0 < within <= 366 * 86400:
        raise InvalidInput("auto-paused within is more than 0 seconds and at most a year")


class BulkService:
    def __init__(
        self, store: OperatorStore, control: ControlService, clock: Clock | None = None
    ) -> None:
        self.store, self.control = store, control
        self.clock = clock or SystemClock()

    async def select(self, filter: BulkFilter, actor: Actor | None = None) -> BulkSelection:
        """The strategies `filter` selects (at most MAX_SELECTION of them, and how
        many match; a user `actor`'s own only, whatever owner the filter names);
        InvalidInput for a filter that cannot be used."""
        check(filter)
        return await self.store.bulk_selection(
            filter, self.clock.now(), MAX_SELECTION + 1, scope(actor)
        )

    async def apply(
        self, action: str, filter: BulkFilter, actor: Actor, expect: str | None = None
    ) -> tuple[BulkSelection, list[BulkOutcome]]:
        """Change each selected strategy in turn, as `actor` (each change in the
        audit log as its own); its result, one per strategy.

        InvalidInput for an unknown action or filter, or a selection larger than
        MAX_SELECTION; Conflict (code `selection_changed`) when `expect` is not the
        key of the selection now. Either way nothing is changed.
        """
        if action not in ACTIONS:
            raise InvalidInput(f"unknown bulk action {action[:40]!r}; one of {', '.join(ACTIONS)}")
        selection = await self.select(filter, actor)
        if selection.total > MAX_SELECTION:
            raise InvalidInput(
                f"{selection.total} strategies match; a bulk change acts on at most "
                f"{MAX_SELECTION}: narrow the filter"
            )
        if expect is not None and expect != selection_key(selection.targets):
            raise Conflict(
                f"the selection changed since it was shown: {selection.total} strategies "
                "match now; review it again",
                "selection_changed",
            )
        change = self._change(action)
        outcomes: list[BulkOutcome] = []
        down: str | None = None
        for target in selection.targets:
            if down is not None:
                outcomes.append(_refused(target, f"not tried: {down}"))
                continue
            try:
                status = await change(target.id, actor)
            except Conflict as exc:
                if exc.code in ALREADY[action]:
                    outcomes.append(BulkOutcome(target.id, target.name, "unchanged", target.status))
                else:
                    outcomes.append(_refused(target, str(exc)))
            except (NotFound, ScheduleError) as exc:
                outcomes.append(_refused(target, str(exc)))
            except StoreUnavailable as exc:
                # Whether this one changed is unknown; the rest are not tried.
                down = str(exc)
                outcomes.append(_refused(target, f"unknown, the database failed: {down}"))
            else:
                outcomes.append(BulkOutcome(target.id, target.name, "changed", status.shown_status))
        return selection, outcomes

    def _change(self, action: str) -> Callable[[UUID, Actor], Awaitable[StrategyStatus]]:
        return {
            "pause": self.control.pause,
            "resume": self.control.resume,
            "stop": self.control.stop,
        }[action]


def _refused(target: BulkTarget, reason: str) -> BulkOutcome:
    return BulkOutcome(target.id, target.name, "refused", target.status, reason)
