"""Triggers' gauges for /api/metrics, read from the database at each scrape (the
listeners run in `cascadian worker` processes and report there): each listener's
state, the armed triggers, the events waiting for their runs, and the lag from an
event to its run over the last hour. The overview is the store's answer
(store/triggers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric


class TriggerGauges:
    """A one-scrape collector over the triggers' overview (None: not read)."""

    def __init__(self, overview: dict[str, Any] | None) -> None:
        self.overview = overview

    def collect(self) -> Iterator[Metric]:
        o = self.overview
        if o is None:
            return
        listeners = o.get("listeners") or []
        for name, doc, key in (
            (
                "cascadian_trigger_listener_connected",
                "1 while the listener is connected",
                "connected",
            ),
            (
                "cascadian_trigger_listener_connections",
                "Market-channel connections the listener has open",
                "connections",
            ),
            ("cascadian_trigger_listener_tokens", "Tokens the listener is subscribed to", "tokens"),
            ("cascadian_trigger_listener_reconnects", "Reconnects since it started", "reconnects"),
            ("cascadian_trigger_listener_frames", "Frames it received since it started", "frames"),
            (
                "cascadian_trigger_listener_frames_dropped",
                "Malformed, unknown or oversized messages it dropped since it started",
                "frames_dropped",
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["listener", "host"])
            for listener in listeners:
                family.add_metric(
                    [str(listener["id"]), str(listener["host"])], float(listener[key])
                )
            yield family
        yield GaugeMetricFamily(
            "cascadian_triggers_armed",
            "Triggers of running strategies that can still fire",
            value=o.get("armed_triggers", 0),
        )
        yield GaugeMetricFamily(
            "cascadian_trigger_events_pending",
            "Crossings written whose run has not been recorded yet",
            value=o.get("pending_events", 0),
        )
        yield GaugeMetricFamily(
            "cascadian_trigger_events_last_hour",
            "Crossings written in the last hour",
            value=o.get("events_last_hour", 0),
        )
        lag = o.get("lag_last_hour") or {}
        family = GaugeMetricFamily(
            "cascadian_trigger_event_lag_seconds",
            "From an event's observation to its run's start, over the last hour's runs",
            labels=["stat"],
        )
        for stat in ("average", "max"):
            value = lag.get(f"{stat}_seconds")
            if value is not None:
                family.add_metric([stat], float(value))
        yield family
