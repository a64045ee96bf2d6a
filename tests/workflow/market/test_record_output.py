"""A market's output: built once while the market lives, a fresh dict for each run."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from cascadian.workflow.market import record
from cascadian.workflow.market.record import parse_markets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def market() -> record.Market:
    [first, *_] = json.loads((FIXTURES / "gamma_markets_keyset_page1.json").read_text())["markets"]
    [parsed], _ = parse_markets([first])
    return parsed


def test_a_markets_output_is_built_once_and_each_caller_gets_its_own_dict() -> None:
    m = market()
    first, second = m.to_output(), m.to_output()
    assert first == second and first is not second
    first["yes_price"] = "changed by a node"
    assert m.to_output()["yes_price"] == m.yes_price
    assert record._OUTPUTS[id(m)] is not first


def test_a_repriced_copy_has_its_own_output() -> None:
    m = market()
    m.to_output()
    repriced = m.model_copy(update={"outcome_prices": [0.25, 0.75], "price_source": "clob"})
    assert repriced.to_output()["outcome_prices"] == [0.25, 0.75]
    assert repriced.to_output()["price_source"] == "clob"
    assert m.to_output()["price_source"] == "gamma"


def test_a_markets_output_goes_with_it() -> None:
    m = market()
    m.to_output()
    key = id(m)
    del m
    gc.collect()
    assert key not in record._OUTPUTS
