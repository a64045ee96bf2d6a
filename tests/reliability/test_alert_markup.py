"""User-written words reach the operators' channel as words, not as Slack markup, and
the webhook's answer is read capped.

Before: a strategy named `<!channel> … <https://evil.example|click>` put that, verbatim,
into the alert webhook's `text` when it auto-paused, so Slack notified the whole
channel and showed a disguised link; a webhook answering a gzip bomb was inflated
whole in the server (420 MB).
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.observers.alerts import AUTO_PAUSED, Alert, Alerts
from cascadian.observers.metrics import WorkerMetrics
from cascadian.outbound.retry import RetryPolicy
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.executors import ScriptedExecutor, failed, returns
from tests.factories import add_strategy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOOK_IP = "93.184.216.34"
HOOK = "https://hooks.example.com/services/T000/B000/secret-token"
PINNED = f"https://{HOOK_IP}/services/T000/B000/secret-token"
HOSTILE = "<!channel> <@U024BE7LH> urgent & <https://evil.example|click> <!here|here>"


async def resolver(host: str, port: int) -> Sequence[str]:
    return [HOOK_IP]


async def no_wait(_: float) -> None:
    return None


def alerts(store: Any, http: httpx.AsyncClient) -> Alerts:
    return Alerts(
        Settings(CASCADIAN_ALERT_WEBHOOK_URL=HOOK),  # type: ignore[call-arg]
        http,
        store,
        clock=FakeClock(NOW),
        metrics=WorkerMetrics(),
        resolver=resolver,
        policy=RetryPolicy(sleep=no_wait, random=lambda: 0.0, max_attempts=1),
    )


@respx.mock
async def test_a_hostile_strategy_name_reaches_the_webhook_escaped_not_as_markup(
    store: SqlStore, db: Any
) -> None:
    route = respx.post(PINNED).mock(return_value=httpx.Response(200, text="ok"))
    sid = add_strategy(db, next_execution_at=NOW, name=HOSTILE)
    async with httpx.AsyncClient() as http:
        sender = alerts(store, http)
        executor = ScriptedExecutor(**{HOSTILE: returns(failed("<!everyone> said <b>no</b>"))})
        settings = Settings(CASCADIAN_AUTO_PAUSE_THRESHOLD=1)  # type: ignore[call-arg]
        ticks = TickService(store, executor, settings, FakeClock(NOW), observers=[sender])
        report = await ticks.tick()
        await sender.drain()
    assert report.executions[0].auto_paused
    body = json.loads(route.calls.last.request.content)
    assert body["event"] == AUTO_PAUSED
    text = body["text"]
    for markup in ("<!channel>", "<@U024BE7LH>", "<https://evil.example|click>", "<!everyone>"):
        assert markup not in text
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; &lt;@U024BE7LH&gt; urgent &amp; " in text
    assert "&lt;https://evil.example|click&gt;" in text
    # The details are data, not markup: exact, for whoever reads them as such.
    assert body["details"]["strategy_name"] == HOSTILE
    # The owner's notification row is read by the original app as plain text (React
    # renders it as text): it keeps the name as written.
    row = db.execute("select message from notifications where workflow_id = %s", (sid,)).fetchone()
    assert row is not None and HOSTILE in row[0]


class Wire(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 16_384):
            yield self.body[start : start + 16_384]


@respx.mock
async def test_a_webhook_answering_a_gzip_bomb_is_read_capped_and_the_alert_counts_as_sent(
    store: SqlStore,
) -> None:
    bomb = gzip.compress(bytes(50_000_000))
    respx.post(PINNED).mock(
        return_value=httpx.Response(200, stream=Wire(bomb), headers={"content-encoding": "gzip"})
    )
    async with httpx.AsyncClient() as http:
        sender = alerts(store, http)
        tracemalloc.start()
        try:
            sent = await sender.send(Alert(AUTO_PAUSED, "x"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert sent
    assert peak < 4_000_000, f"peak {peak:,} bytes reading the webhook's answer"
