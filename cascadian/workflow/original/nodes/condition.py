"""original-condition: the original's If/Then node, an ordered list of branches.

`conditions: [{if, then, else?}]`, tried in order, on the node's input (its fields
are the names; workflow/original/expressions.py): the first branch whose `if` holds
gives `{branch: then, matched: true, condition: if}`; a branch that fails and has an
`else` ends the list with `{branch: else, matched: false}`; otherwise the next branch
is tried, and when none is left `{branch: null, matched: false}`.

The original only reported `branch`. Here it routes: translate.py gives each edge
out of this node the branch name (`then`/`else`) that names its target, by node id
or label; edges to the chosen branch's node run, edges to the other named nodes are
skipped, and edges to nodes no branch names always run. The node passes on its
input, with the branch fields added when the input is an object.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from cascadian.workflow.node_api import NodeContext, NodeType, Routed, routed_handle
from cascadian.workflow.original.expressions import ExpressionError, compile_expression, holds
from cascadian.workflow.original.nodes.common import OriginalConfig, one_input


class Branch(OriginalConfig):
    if_: str | None = Field(default=None, alias="if")
    then: str | None = None
    else_: str | None = Field(default=None, alias="else")

    @model_validator(mode="after")
    def _parses(self) -> Self:
        if self.if_:
            try:
                compile_expression(self.if_)
            except ExpressionError as exc:
                raise ValueError(f"if: {exc}") from None
        return self


class ConditionConfig(OriginalConfig):
    conditions: list[Branch] = Field(default_factory=list)


def decide(config: ConditionConfig, scope: Any) -> dict[str, Any]:
    """The original's verdict on `scope`."""
    names = scope if isinstance(scope, dict) else {}
    for branch in config.conditions:
        if branch.if_:
            try:
                met = holds(branch.if_, names)
            except ExpressionError:
                met = False  # as the original: an expression that fails is false
            if met:
                return {"branch": branch.then, "matched": True, "condition": branch.if_}
        if branch.else_:
            return {"branch": branch.else_, "matched": False}
    return {"branch": None, "matched": False}


async def run(config: ConditionConfig, ctx: NodeContext) -> Routed:
    received = one_input(ctx)
    verdict = decide(config, received)
    output = {**received, **verdict} if isinstance(received, dict) else verdict
    return Routed(output, verdict["branch"] or "")


CONDITION = NodeType(
    name="original-condition",
    config_model=ConditionConfig,
    run=run,
    branch=routed_handle,
    handleless_edges_run=True,
    description="The original's If/Then: routes to the node its chosen branch names.",
)
