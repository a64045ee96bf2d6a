"""A run's node configs and resolved inputs, as the run page shows them: templates
resolved from the run's outputs, secrets redacted."""

from __future__ import annotations

from cascadian.data import StrategyGraph
from cascadian.web.console.node_inputs import REDACTED, node_inputs, redact
from tests.factories import chain, node


def test_secret_looking_keys_bearer_tokens_and_url_passwords_are_redacted() -> None:
    config = {
        "url": "https://bot:hunter2@api.example.com/x",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k", "Accept": "json"},
        "body": {"password": "p", "items": ["Basic dXNlcjpw", "plain"]},
        "client_secret": "",
    }
    assert redact(config) == {
        "url": f"https://bot:{REDACTED}@api.example.com/x",
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "json"},
        "body": {"password": REDACTED, "items": [REDACTED, "plain"]},
        "client_secret": "",
    }


def test_templates_resolve_from_the_runs_outputs_and_a_missing_one_says_why() -> None:
    nodes, edges = chain(
        node("start", "start"),
        node("tell", "notify", title="Weather in ${start.city}", message="m", token="t"),
        node("later", "notify", title="${tell.missing.deeper}", message="m"),
    )
    graph = StrategyGraph(nodes=nodes, edges=edges, variables={"city": "Paris"})
    found = node_inputs(graph, {"start": {"city": "Paris"}, "tell": {"sent": True}})
    assert found["start"].resolved is None and found["start"].config == {}
    assert found["tell"].config["title"] == "Weather in ${start.city}"
    assert found["tell"].resolved["title"] == "Weather in Paris"
    assert found["tell"].config["token"] == REDACTED == found["tell"].resolved["token"]
    assert found["later"].resolved is None and found["later"].unresolved


def test_a_graph_that_does_not_parse_has_no_inputs_to_show() -> None:
    assert node_inputs(StrategyGraph(nodes=[]), {}) == {}
