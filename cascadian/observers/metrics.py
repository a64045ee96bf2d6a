"""Metrics in Prometheus's text format (GET /api/metrics), from two sources.

- Gauges read from the database at each scrape (`store.gauges`, one call), so
  they are right whichever process answers, even on serverless where every
  invocation may be a new one: the due backlog, the oldest overdue strategy's lag,
  leases in flight, strategies by status, runs of the last 5 minutes by status,
  auto-pauses of the last hour, the tick ledger's age, table sizes, and the
  trading book's: strategies whose trading a limit halted, kill switches on.
- Counters and histograms of this process (`WorkerMetrics`, an observer of the
  tick: ports.TickObserver): tick and run durations, schedule lag, claim sizes,
  store errors, prunes, alerts, and orders recorded by result (an observer of the
  paper executor too: ports.TradingObserver). They mean most for a long-running `cascadian
  worker` or `serve`; a serverless invocation only shows its own.

Each app (and each test) has its own CollectorRegistry, never prometheus-client's
global one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from cascadian.data import Gauges, OrderIntent, OrderOutcome, TradingGauges, TradingHalt
from cascadian.observers.trigger_gauges import TriggerGauges
from cascadian.reports import RunReport, TickReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120)
_LAG = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_CLAIM = (0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


class WorkerMetrics:
    """This process's counters and histograms, in a registry of its own; the tick
    tells it what happens (a TickObserver)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._by_status: dict[str, tuple[Counter, Histogram]] = {}
        self.ticks = Counter(
            "cascadian_ticks", "Ticks this process ran, by outcome", ["outcome"], registry=r
        )
        self.tick_duration = Histogram(
            "cascadian_tick_duration_seconds", "How long ticks took", buckets=_SECONDS, registry=r
        )
        self.runs = Counter(
            "cascadian_runs", "Runs this process finished, by status", ["status"], registry=r
        )
        self.run_duration = Histogram(
            "cascadian_run_duration_seconds",
            "How long runs took, by status",
            ["status"],
            buckets=_SECONDS,
            registry=r,
        )
        self.schedule_lag = Histogram(
            "cascadian_schedule_lag_seconds",
            "How late scheduled runs started against their slots",
            buckets=_LAG,
            registry=r,
        )
        self.claim_size = Histogram(
            "cascadian_claim_size", "Strategies each claim took", buckets=_CLAIM, registry=r
        )
        self.store_errors = Counter(
            "cascadian_store_errors",
            "Store calls that failed, by operation",
            ["operation"],
            registry=r,
        )
        self.pruned_rows = Counter(
            "cascadian_pruned_rows", "Rows the ticks' prunes deleted, by kind", ["kind"], registry=r
        )
        self.prune_duration = Histogram(
            "cascadian_prune_duration_seconds",
            "How long the ticks' prunes took",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.event_runs = Counter(
            "cascadian_event_runs",
            "Runs of trigger events (crossings, resolutions) this process finished",
            registry=r,
        )
        self.alerts = Counter(
            "cascadian_alerts",
            "Alerts sent to the webhook, by event and outcome",
            ["event", "outcome"],
            registry=r,
        )

        self.orders = Counter(
            "cascadian_orders",
            "Paper orders this process recorded, by result and refusal (the limit, switch "
            "or book rule; empty unless refused)",
            ["result", "refusal"],
            registry=r,
        )
        self.trading_halts = Counter(
            "cascadian_trading_halts",
            "Strategies this process's orders halted (and auto-paused), by limit",
            ["limit"],
            registry=r,
        )

    def _children(self, status: str) -> tuple[Counter, Histogram]:
        children = (self.runs.labels(status), self.run_duration.labels(status))
        self._by_status[status] = children
        return children

    def claimed(self, n: int) -> None:
        self.claim_size.observe(n)

    def store_error(self, operation: str) -> None:
        self.store_errors.labels(operation).inc()

    def run(self, run: RunReport) -> None:
        # The labelled children, looked up once per status: this is once per run.
        runs, durations = self._by_status.get(run.status) or self._children(run.status)
        runs.inc()
        durations.observe(run.duration_ms / 1000)
        if run.lag_seconds is not None:
            self.schedule_lag.observe(run.lag_seconds)
        if run.event_id is not None:
            self.event_runs.inc()

    def run_now_finished(self, run: RunReport) -> None:
        self.run(run)

    def tick_finished(self, report: TickReport) -> None:
        self.ticks.labels("success" if report.success else "failure").inc()
        self.tick_duration.observe(report.execution_time_ms / 1000)
        for run in report.executions:
            self.run(run)
        if report.prune_error is not None:
            self.store_error("prune")
        if report.prune is not None:
            p = report.prune
            for kind, n in (
                ("runs", p.runs),
                ("node_logs", p.node_logs),
                ("ticks", p.ticks),
                ("notifications", p.notifications),
                ("audit_entries", p.audit_entries),
                ("market_history", p.market_history),
                ("leases", p.leases),
            ):
                self.pruned_rows.labels(kind).inc(n)
            self.prune_duration.observe(p.elapsed_ms / 1000)

    def order_placed(self, order: OrderIntent, outcome: OrderOutcome) -> None:
        self.orders.labels(outcome.result, outcome.refusal or "").inc()

    def trading_halted(self, order: OrderIntent, halt: TradingHalt) -> None:
        self.trading_halts.labels(halt.reason).inc()

    def alert(self, event: str, sent: bool) -> None:
        self.alerts.labels(event, "sent" if sent else "failed").inc()


class _DatabaseGauges:
    """A one-scrape collector over the gauges the database answered (None: it did not)."""

    def __init__(
        self, gauges: Gauges | None, now: datetime, trading: TradingGauges | None = None
    ) -> None:
        self.gauges = gauges
        self.now = now
        self.trading = trading

    def collect(self) -> Iterator[Metric]:
        g = self.gauges
        yield GaugeMetricFamily(
            "cascadian_database_up",
            "1 if the database answered this scrape's query",
            value=0 if g is None else 1,
        )
        if g is None:
            return
        yield GaugeMetricFamily(
            "cascadian_due_strategies",
            "Strategies due now that no live lease holds (the due backlog)",
            value=g.due,
        )
        yield GaugeMetricFamily(
            "cascadian_oldest_due_lag_seconds",
            "How late the oldest due strategy is (0 when none is due)",
            value=g.oldest_due_lag_seconds,
        )
        yield GaugeMetricFamily(
            "cascadian_leases_in_flight", "Strategies a live lease holds", value=g.leases_in_flight
        )
        yield _labelled(
            "cascadian_strategies",
            "Strategies (current versions) by status",
            "status",
            g.strategies_by_status,
        )
        yield _labelled(
            "cascadian_runs_last_5m",
            "Runs started in the last 5 minutes, by status",
            "status",
            g.runs_last_5m_by_status,
        )
        yield GaugeMetricFamily(
            "cascadian_auto_pauses_last_hour",
            "Strategies auto-paused by a run that finished in the last hour",
            value=g.auto_pauses_last_hour,
        )
        if g.last_tick_at is not None:
            yield GaugeMetricFamily(
                "cascadian_last_tick_age_seconds",
                "Seconds since the newest tick of the ledger started",
                value=max(0.0, (self.now - g.last_tick_at).total_seconds()),
            )
        yield _labelled(
            "cascadian_table_rows",
            "Rows per table, as the planner estimates them (retention keeps them flat)",
            "table",
            g.table_rows,
        )
        t = self.trading
        if t is not None:
            yield _labelled(
                "cascadian_trading_halted_strategies",
                "Strategies whose trading a limit halted (their orders refused until an operator "
                "lifts the halt), by limit",
                "limit",
                t.halted_by_limit,
            )
            yield _labelled(
                "cascadian_kill_switches",
                "Kill switches on: the global one (0 or 1) and strategies' own",
                "scope",
                {"global": int(t.global_kill_switch), "strategy": t.strategy_kill_switches},
            )


def _labelled(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def exposition(
    gauges: Gauges | None,
    worker: WorkerMetrics | None,
    now: datetime,
    trading: TradingGauges | None = None,
    triggers: dict[str, Any] | None = None,
) -> bytes:
    """The text /api/metrics answers: the database's gauges (the triggers' too), then
    this process's."""
    scrape = CollectorRegistry()
    scrape.register(_DatabaseGauges(gauges, now, trading))
    scrape.register(TriggerGauges(triggers))
    text = generate_latest(scrape)
    if worker is not None:
        text += generate_latest(worker.registry)
    return text
