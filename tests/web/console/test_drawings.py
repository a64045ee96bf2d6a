"""The tick chart finds the minutes the scheduler missed, and the graph diagram
lays nodes out in the order data flows and escapes what users named."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cascadian.console.service import TickWindow
from cascadian.data import TickEntry
from cascadian.web.console.charts import axes, chart_data, gaps, runs_chart
from cascadian.web.console.diagram import NodeMark, graph_diagram, layers

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def tick(minutes_ago: float, gap: float | None = 60.0, ok: int = 1, failed: int = 0) -> TickEntry:
    at = NOW - timedelta(minutes=minutes_ago)
    return TickEntry(
        uuid.uuid4(), "cron", at, at, True, 1, ok + failed, ok, failed, 0, 120, None, {}, gap
    )


def window(*ticks: TickEntry, complete: bool = True, hours: int = 1) -> TickWindow:
    return TickWindow(NOW - timedelta(hours=hours), NOW, list(ticks), complete)


def test_ticks_a_minute_apart_have_no_gap_and_a_late_tick_is_not_a_missed_one() -> None:
    assert gaps(window(tick(3), tick(2), tick(0.6))) == []  # 84 s apart: late, not missed


def test_minutes_without_a_tick_are_gaps_including_since_the_last_tick() -> None:
    found = gaps(window(tick(30), tick(29), tick(20), tick(19)))
    assert [(g.start, g.end) for g in found] == [
        (NOW - timedelta(minutes=29), NOW - timedelta(minutes=20)),
        (NOW - timedelta(minutes=19), NOW),
    ]
    assert [g.missed_minutes for g in found] == [8, 18]


def test_before_the_first_tick_ever_nothing_is_missed() -> None:
    assert (
        gaps(
            window(
                tick(10, gap=None),
                tick(9),
                tick(8),
                tick(7),
                tick(6),
                tick(5),
                tick(4),
                tick(3),
                tick(2),
                tick(1),
            )
        )
        == []
    )


def test_a_gap_that_began_before_the_window_is_drawn_from_its_start() -> None:
    [gap] = gaps(window(tick(5, gap=3600), tick(4), tick(3), tick(2), tick(1)))
    assert (gap.start, gap.end) == (NOW - timedelta(hours=1), NOW - timedelta(minutes=5))


def test_an_incomplete_window_reads_no_gap_before_its_oldest_tick() -> None:
    assert gaps(window(tick(5, gap=3600), tick(4), tick(3), tick(2), tick(1), complete=False)) == []
    assert gaps(window(complete=False)) == []


def test_runs_are_summed_per_bucket_and_failures_counted() -> None:
    data = chart_data(window(tick(30, ok=2), tick(29.5, ok=1, failed=1), tick(2)))
    assert (data.succeeded, data.failed, data.ticks) == (4, 1, 3)
    assert data.bucket == timedelta(minutes=1) and len(data.buckets) == 60
    [busy] = [b for b in data.buckets if b.failed]
    assert (busy.succeeded, busy.failed) == (3, 1)  # both ticks of minute 30
    assert axes(window(), data).runs_max == 5
    day = chart_data(window(tick(1), hours=24))
    assert day.bucket == timedelta(minutes=6) and len(day.buckets) == 240


def test_the_chart_draws_a_bar_per_busy_bucket_and_a_span_per_gap() -> None:
    w = window(tick(30, ok=2), tick(29, ok=1, failed=1), tick(20))
    svg = str(runs_chart(w, chart_data(w)))
    assert svg.count('class="bar-ok"') == 3 and svg.count('class="bar-fail"') == 1
    assert svg.count('class="gap"') == 2


def test_nodes_are_layered_by_the_furthest_input() -> None:
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]
    assert layers(["a", "b", "c", "d"], edges) == {"a": 0, "b": 1, "c": 2, "d": 3}


def test_nodes_in_a_cycle_are_kept_in_a_last_layer() -> None:
    assert layers(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")]) == {
        "a": 0,
        "b": 1,
        "c": 1,
    }


def test_the_diagram_colours_nodes_by_the_run_and_escapes_user_text() -> None:
    nodes = [
        {"id": "start", "type": "start"},
        {"id": "<img src=x>", "type": "filter", "data": {"label": "<b>cheap</b>"}},
    ]
    edges = [{"source": "start", "target": "<img src=x>"}, {"source": "start", "target": "gone"}]
    svg = str(graph_diagram(nodes, edges, {"<img src=x>": NodeMark("error", "bad & <worse>")}))
    assert "<img" not in svg and "<b>" not in svg
    assert "&lt;b&gt;cheap&lt;/b&gt;" in svg and "bad &amp; &lt;worse&gt;" in svg
    assert 'class="node node-error" data-node-id="&lt;img src=x&gt;"' in svg
    assert 'class="node node-none" data-node-id="start"' in svg
    assert svg.count('class="edge"') == 1  # the edge to a missing node is not drawn


def test_a_graph_without_nodes_says_so() -> None:
    assert "no nodes" in str(graph_diagram([], []))
