"""`${node_id.path}` templates: lookup, formatting, errors, escapes."""

from __future__ import annotations

from typing import Any

import pytest

from cascadian.workflow.node_api import NodeError
from cascadian.workflow.templates import (
    MISSING,
    TemplateError,
    get_path,
    has_template,
    references,
    resolve,
)

OUTPUTS: dict[str, Any] = {
    "fetch": {"items": [{"id": "m1", "price": 0.4}, {"id": "m2", "price": 0.7}], "count": 2},
    "flag": {"ok": True, "none": None},
}


def test_a_whole_string_template_returns_the_object_itself() -> None:
    assert resolve("${fetch.items}", OUTPUTS) == OUTPUTS["fetch"]["items"]
    assert resolve("${fetch}", OUTPUTS) is OUTPUTS["fetch"]


def test_a_whole_string_template_keeps_numbers_booleans_and_null() -> None:
    assert resolve("${fetch.count}", OUTPUTS) == 2
    assert resolve("${fetch.items.1.price}", OUTPUTS) == 0.7
    assert resolve("${flag.ok}", OUTPUTS) is True
    assert resolve("${flag.none}", OUTPUTS) is None


def test_list_indexes_in_paths_include_negative_ones() -> None:
    assert resolve("${fetch.items.0.id}", OUTPUTS) == "m1"
    assert resolve("${fetch.items.-1.id}", OUTPUTS) == "m2"


def test_whitespace_inside_the_braces_is_ignored() -> None:
    assert resolve("${ fetch.count }", OUTPUTS) == 2


def test_an_embedded_template_is_formatted_into_the_string() -> None:
    assert resolve("found ${fetch.count} markets", OUTPUTS) == "found 2 markets"
    assert resolve("${fetch.items.0.id}/${fetch.items.1.id}", OUTPUTS) == "m1/m2"


def test_an_embedded_object_or_list_is_formatted_as_json() -> None:
    assert resolve("first: ${fetch.items.0}", OUTPUTS) == 'first: {"id": "m1", "price": 0.4}'
    assert resolve("ids ${fetch.items.-1.id} ${flag}", OUTPUTS) == (
        'ids m2 {"ok": true, "none": null}'
    )


def test_dicts_and_lists_are_walked_recursively_without_mutating_the_input() -> None:
    config = {"items": "${fetch.items}", "nested": [{"n": "${fetch.count}"}, 3, None]}
    resolved = resolve(config, OUTPUTS)
    assert resolved == {"items": OUTPUTS["fetch"]["items"], "nested": [{"n": 2}, 3, None]}
    assert config["items"] == "${fetch.items}"


def test_strings_without_templates_and_non_strings_are_unchanged() -> None:
    assert resolve("plain $ text {}", OUTPUTS) == "plain $ text {}"
    assert resolve(42, OUTPUTS) == 42


def test_a_double_dollar_escapes_a_literal_template() -> None:
    assert resolve("$${fetch.count}", OUTPUTS) == "${fetch.count}"
    assert resolve("cost $${x} vs ${fetch.count}", OUTPUTS) == "cost ${x} vs 2"


def test_variables_refer_to_the_workflow_variables() -> None:
    variables = {"threshold": 0.5, "tags": ["a"]}
    assert resolve("${variables.threshold}", OUTPUTS, variables=variables) == 0.5
    assert resolve("${variables}", OUTPUTS, variables=variables) is variables


def test_a_reference_to_a_node_without_output_names_the_reference() -> None:
    with pytest.raises(TemplateError, match=r"\$\{scan\.items\}: node 'scan' has no output"):
        resolve({"items": "${scan.items}"}, OUTPUTS)


def test_a_missing_key_names_the_path_walked_so_far() -> None:
    with pytest.raises(
        TemplateError, match=r"\$\{fetch\.items\.0\.volume\}.*fetch\.items\.0 has no key 'volume'"
    ):
        resolve("${fetch.items.0.volume}", OUTPUTS)


def test_an_index_past_the_end_says_how_many_items_there_are() -> None:
    with pytest.raises(TemplateError, match="has no index 5 \\(it has 2 items\\)"):
        resolve("x ${fetch.items.5}", OUTPUTS)


def test_a_path_through_a_scalar_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"fetch\.count is int"):
        resolve("${fetch.count.value}", OUTPUTS)


def test_an_empty_template_is_an_error() -> None:
    with pytest.raises(TemplateError, match="empty"):
        resolve("${}", OUTPUTS)


def test_template_errors_are_node_errors() -> None:
    assert issubclass(TemplateError, NodeError)


def test_get_path_returns_missing_instead_of_raising() -> None:
    item = {"a": {"b": [10, 20]}}
    assert get_path(item, "a.b.1") == 20
    assert get_path(item, "a.c") is MISSING
    assert get_path(item, "a.b.x") is MISSING
    assert get_path("text", "a") is MISSING


def test_has_template_and_references_find_templates_anywhere_in_a_config() -> None:
    config = {"a": ["x", {"b": "${fetch.items} and ${variables.x}"}], "c": "$${escaped}"}
    assert has_template(config)
    assert not has_template({"a": ["x", 1, {"b": "$ {no}"}]})
    assert sorted(references(config)) == [
        ("${fetch.items}", "fetch"),
        ("${variables.x}", "variables"),
    ]
