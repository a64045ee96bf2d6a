"""Operators' alerts: a webhook (CASCADIAN_ALERT_WEBHOOK_URL) POSTed when a run
auto-pauses a strategy, when an order breaches its strategy's daily loss limit
(which halts and auto-pauses it: the paper executor tells us, a TradingObserver),
and when ticks have failed CASCADIAN_ALERT_FAILED_TICKS times in a row (once per
streak).

Alerts never hold up a tick: they are worked out and sent after the tick is
recorded, on a task of their own, each within CASCADIAN_ALERT_TIMEOUT_SECONDS,
retries included (RetryPolicy, on tenacity: connection errors, timeouts, 429 and
5xx). One that cannot be sent is logged, without its URL (webhook URLs often carry
their token), and dropped. The URL passes the SSRF guard at every send (private
addresses need CASCADIAN_HTTP_ALLOWLIST) and the request goes to the checked
address.

The failing streak is read from the tick ledger, so it is right across serverless
invocations; when the ledger cannot be read (the usual reason ticks fail: the
database is down) this process's own count of failed ticks stands in.

The body is JSON with a `text` line (what Slack-compatible webhooks show) and the
details: `{"event", "text", "details", "timestamp"}`. `text` carries user-written
words (a strategy's name, a node's error), so it is escaped as Slack's formatting
rules say (`&`, `<`, `>`): a name like `<!channel> <https://evil|click>` shows as
written instead of notifying the channel or hiding a link. `details` are plain
JSON values, unescaped: they are data, not markup.

The webhook's answer is read through the http nodes' capped streaming reader
(outbound/body.py), at most ANSWER_CAP bytes: only its status and the start of
a refusal matter, and a hostile endpoint's gzip bomb must not inflate here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.data import OrderIntent, OrderOutcome, TradingHalt
from cascadian.errors import OutboundError
from cascadian.observers.metrics import WorkerMetrics
from cascadian.outbound.body import ACCEPT_ENCODING, read_capped
from cascadian.outbound.retry import RetryPolicy
from cascadian.outbound.ssrf import Resolver, check_url, pinned_request
from cascadian.ports import Store
from cascadian.reports import RunReport, TickReport

log = logging.getLogger(__name__)

AUTO_PAUSED = "strategy_auto_paused"
TRADING_HALTED = "strategy_trading_halted"
TICKS_FAILING = "ticks_failing"
# How much of the webhook's answer is read (and then dropped).
ANSWER_CAP = 64 * 1024


def slack_escaped(text: str) -> str:
    """`text` with Slack's three control characters escaped, so `<!channel>`,
    `<@U123>` and `<https://x|label>` written by a user show as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Alert:
    event: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def auto_pause_alerts(runs: Sequence[RunReport], tick_id: str | None) -> list[Alert]:
    return [
        Alert(
            AUTO_PAUSED,
            f"cascadian: strategy {r.workflow_name!r} was auto-paused after consecutive "
            f"errors; last error: {r.error or 'unknown'}",
            {
                "strategy_id": str(r.workflow_id),
                "strategy_name": r.workflow_name,
                "execution_id": str(r.execution_id),
                "error": r.error,
                "tick_id": tick_id,
            },
        )
        for r in runs
        if r.auto_paused
    ]


def halt_alert(order: OrderIntent, halt: TradingHalt) -> Alert:
    paused = "auto-paused and its trading halted" if halt.auto_paused else "its trading halted"
    return Alert(
        TRADING_HALTED,
        f"cascadian: strategy {halt.strategy_name!r} was {paused}: {halt.detail}",
        {
            "strategy_id": str(order.workflow_id),
            "strategy_name": halt.strategy_name,
            "execution_id": None if order.execution_id is None else str(order.execution_id),
            "reason": halt.reason,
            "detail": halt.detail,
            "auto_paused": halt.auto_paused,
        },
    )


def marks_halt_alert(workflow_id: UUID, halt: TradingHalt) -> Alert:
    """The same alert as an order's halt, for a halt the marking step made (no run)."""
    paused = "auto-paused and its trading halted" if halt.auto_paused else "its trading halted"
    return Alert(
        TRADING_HALTED,
        f"cascadian: strategy {halt.strategy_name!r} was {paused}: {halt.detail}",
        {
            "strategy_id": str(workflow_id),
            "strategy_name": halt.strategy_name,
            "execution_id": None,
            "reason": halt.reason,
            "detail": halt.detail,
            "auto_paused": halt.auto_paused,
        },
    )


class Alerts:
    """Sends alerts for ticks and runs, as an observer of the tick (a TickObserver);
    `drain()` waits for those on their way."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        store: Store,
        *,
        clock: Clock | None = None,
        metrics: WorkerMetrics | None = None,
        resolver: Resolver | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.store = store
        self.clock = clock or SystemClock()
        self.metrics = metrics
        self.resolver = resolver
        self.policy = policy or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=4.0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failed_in_row = 0  # this process's own streak

    @property
    def enabled(self) -> bool:
        return self.settings.alert_webhook_url is not None

    def claimed(self, n: int) -> None:
        pass  # a claim's size is the metrics' business

    def store_error(self, operation: str) -> None:
        pass  # a failed tick is alerted on when it ends

    def tick_finished(self, report: TickReport) -> None:
        """Start working out and sending the tick's alerts; returns at once."""
        self._failed_in_row = 0 if report.success else self._failed_in_row + 1
        if self.enabled:
            self._start(self._for_tick(report, self._failed_in_row))

    def run_now_finished(self, report: RunReport) -> None:
        """Alerts for a run outside a tick (a run now that auto-paused its strategy)."""
        alerts = auto_pause_alerts([report], None)
        if self.enabled and alerts:
            self._start(self._send_all(alerts))

    def order_placed(self, order: OrderIntent, outcome: OrderOutcome) -> None:
        pass  # orders are the metrics' business

    def trading_halted(self, order: OrderIntent, halt: TradingHalt) -> None:
        """An order halted its strategy's trading (a TradingObserver); returns at once."""
        if self.enabled:
            self._start(self._send_all([halt_alert(order, halt)]))

    def strategy_halted(self, workflow_id: UUID, halt: TradingHalt) -> None:
        """The marking step halted a strategy's trading (its marks took the day's loss
        to its limit: a HaltObserver); returns at once."""
        if self.enabled:
            self._start(self._send_all([marks_halt_alert(workflow_id, halt)]))

    async def drain(self, within: float | None = None) -> None:
        """Wait (up to `within` seconds) for the alerts on their way."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)

    def _start(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _for_tick(self, report: TickReport, own_streak: int) -> None:
        alerts = auto_pause_alerts(report.executions, str(report.id))
        if not report.success:
            streak = await self._streak(report, own_streak)
            n = self.settings.alert_failed_ticks
            if streak == n:
                alerts.append(
                    Alert(
                        TICKS_FAILING,
                        f"cascadian: the last {n} ticks failed; latest error: {report.error}",
                        {"failed_ticks": n, "error": report.error, "tick_id": str(report.id)},
                    )
                )
        await self._send_all(alerts)

    async def _streak(self, report: TickReport, own_streak: int) -> int:
        """Failed ticks in a row, newest first, as the ledger has them (once it has
        this tick), else as this process counted them."""
        try:
            ticks = await self.store.ticks(self.settings.alert_failed_ticks + 1)
        except Exception:
            return own_streak
        if not ticks or ticks[0].id != report.id:
            return own_streak  # this tick was not recorded
        streak = 0
        for t in ticks:
            if t.success:
                break
            streak += 1
        return streak

    async def _send_all(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            await self.send(alert)

    async def send(self, alert: Alert) -> bool:
        """POST one alert within the alert timeout; False (logged) if it was not taken."""
        secret = self.settings.alert_webhook_url
        assert secret is not None  # enabled
        total = self.settings.alert_timeout_seconds
        body = {
            "event": alert.event,
            "text": slack_escaped(alert.text),
            "details": alert.details,
            "timestamp": self.clock.now().isoformat(),
        }
        sent = False
        try:
            async with asyncio.timeout(total):
                target = await check_url(
                    secret.get_secret_value(), self.settings.http_allowlist, self.resolver
                )
                deadline = asyncio.get_running_loop().time() + total
                request = pinned_request(
                    target,
                    "POST",
                    headers={"Accept-Encoding": ACCEPT_ENCODING},
                    json=body,
                    timeout=min(5.0, total),
                )
                response = await self.policy.send(
                    lambda: self.http.send(request, stream=True),
                    deadline=deadline,
                    what="the alert webhook",
                )
                try:
                    sent = response.is_success
                    answer = await _answer(response, deadline)
                finally:
                    await response.aclose()
                if not sent:
                    log.warning(
                        "alert %s not taken: the webhook answered %d %s",
                        alert.event,
                        response.status_code,
                        _without_url(answer, secret.get_secret_value()),
                    )
        except TimeoutError:
            log.warning("alert %s not sent within %gs", alert.event, total)
        except Exception as exc:
            # The message names the host at most; never the URL's path or query.
            log.warning(
                "alert %s not sent: %s",
                alert.event,
                _without_url(str(exc), secret.get_secret_value()),
            )
        if self.metrics is not None:
            self.metrics.alert(alert.event, sent)
        return sent


async def _answer(response: httpx.Response, deadline: float) -> str:
    """The start of the webhook's answer (Slack's says why it refused, e.g.
    `invalid_payload`), read capped; empty when it is too large or undecodable."""
    try:
        content = await read_capped(response, ANSWER_CAP, "the alert webhook", deadline)
    except OutboundError:
        return ""
    return repr(content[:200].decode("utf-8", "replace"))


def _without_url(message: str, url: str) -> str:
    return message.replace(url, "<CASCADIAN_ALERT_WEBHOOK_URL>")
