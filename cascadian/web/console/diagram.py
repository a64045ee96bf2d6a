"""A strategy's graph drawn as an SVG diagram on the server, coloured by a run.

Nodes are laid out left to right in layers (a node sits one layer after the
furthest node that feeds it), in their saved order within a layer. Every name
and id in it is user data, so all text is escaped. Nodes in a cycle, which a
valid graph never has, go in a last layer rather than being lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

NODE_W, NODE_H = 176, 54
GAP_X, GAP_Y, PAD = 64, 22, 16
LABEL_CHARS = 24
PHONE_WIDTH = 340  # what a 390 px screen leaves inside a card


@dataclass(frozen=True)
class NodeMark:
    """A node's part in a run, for its colour and tooltip."""

    status: str  # success, error, skipped
    error: str | None = None
    duration_ms: int = 0


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _short(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def node_label(node: Mapping[str, Any]) -> str:
    data = node.get("data") if isinstance(node.get("data"), dict) else {}
    assert isinstance(data, dict)
    for key in ("label", "name", "title"):
        if isinstance(data.get(key), str) and data[key].strip():
            return str(data[key])
    return _text(node.get("id"))


def node_type(node: Mapping[str, Any]) -> str:
    data = node.get("data") if isinstance(node.get("data"), dict) else {}
    assert isinstance(data, dict)
    return _text(node.get("type") or data.get("type") or data.get("nodeType") or "?")


def layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: 0 for sources, else one more than its furthest input."""
    inputs: dict[str, list[str]] = {i: [] for i in ids}
    outputs: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        inputs[b].append(a)
        outputs[a].append(b)
    layer: dict[str, int] = {}
    waiting = {i: len(inputs[i]) for i in ids}
    ready = [i for i in ids if waiting[i] == 0]
    while ready:
        current = ready.pop(0)
        layer[current] = max((layer[p] + 1 for p in inputs[current]), default=0)
        for nxt in outputs[current]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    last = max(layer.values(), default=-1) + 1
    for i in ids:
        layer.setdefault(i, last)  # in a cycle
    return layer


def graph_diagram(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    marks: Mapping[str, NodeMark] | None = None,
) -> Markup:
    marks = marks or {}
    ids: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    for n in nodes:
        nid = _text(n.get("id"))
        if nid and nid not in by_id:
            ids.append(nid)
            by_id[nid] = n
    links = [
        (_text(e.get("source")), _text(e.get("target")), e)
        for e in edges
        if _text(e.get("source")) in by_id and _text(e.get("target")) in by_id
    ]
    if not ids:
        return Markup('<p class="muted">This strategy has no nodes.</p>')
    layer = layers(ids, [(a, b) for a, b, _ in links])
    rows: dict[int, int] = {}
    pos: dict[str, tuple[float, float]] = {}
    for nid in ids:
        column = layer[nid]
        row = rows.get(column, 0)
        rows[column] = row + 1
        pos[nid] = (PAD + column * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(layer.values()) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values()) * (NODE_H + GAP_Y) - GAP_Y
    # Wider than a phone's screen: the page says it scrolls (console.css).
    wide = " scrolls-on-phone" if width > PHONE_WIDTH else ""
    parts = [
        f'<svg class="diagram{wide}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="the strategy\'s graph" '
        'xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path class="arrow" d="M0,0 L10,5 '
        'L0,10 z"/></marker></defs>',
    ]
    for a, b, e in links:
        (ax, ay), (bx, by) = pos[a], pos[b]
        x0, y0 = ax + NODE_W, ay + NODE_H / 2
        x1, y1 = bx, by + NODE_H / 2
        if x1 <= x0:  # an edge back (a cycle) or within a layer: loop around below
            x1, y1 = bx + NODE_W / 2, by + NODE_H
            d = f"M{x0},{y0} C{x0 + 40},{y0 + 60} {x1},{y1 + 60} {x1},{y1}"
        else:
            mid = (x0 + x1) / 2
            d = f"M{x0},{y0} C{mid},{y0} {mid},{y1} {x1},{y1}"
        parts.append(f'<path class="edge" d="{d}" marker-end="url(#arrow)"/>')
        label = _text(e.get("label") or e.get("sourceHandle"))
        if label and label not in ("source", "output", "default"):
            parts.append(
                f'<text class="edge-label" x="{(x0 + x1) / 2:.0f}" y="{(y0 + y1) / 2 - 4:.0f}" '
                f'text-anchor="middle">{escape(_short(label, 16))}</text>'
            )
    for nid in ids:
        x, y = pos[nid]
        node = by_id[nid]
        mark = marks.get(nid)
        status = mark.status if mark else "none"
        label, kind = node_label(node), node_type(node)
        tip = f"{nid} ({kind})"
        if mark:
            tip += f": {mark.status}, {mark.duration_ms} ms"
            if mark.error:
                tip += f"\n{mark.error}"
        parts.append(
            f'<g class="node node-{escape(status)}" data-node-id="{escape(nid)}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            f'<text class="node-label" x="{x + 12}" y="{y + 22}">{escape(_short(label))}</text>'
            f'<text class="node-type" x="{x + 12}" y="{y + 40}">{escape(_short(kind))}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every user string above is escaped
