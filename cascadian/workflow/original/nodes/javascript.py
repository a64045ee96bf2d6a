"""original-javascript and original-conditional: the user's JavaScript, in QuickJS.

Both bind the node's inputs as the original's Run button did: `inputs` (the list of
upstream outputs, leftmost first) and `input1` ... `inputN`. javascript runs `code`
as a function body (so it needs a `return`); its return value, as JSON, is the
output. conditional evaluates `condition` as an expression and routes to its "true"
or "false" edges (edges without a handle always run); what it passes on is its
input (one input as it is, several as a list), not the boolean the original passed,
so a branch can use the data that was tested. The code runs in a sandbox process,
never in the scheduler's (workflow/sandbox/): its limits, isolation and the caps
on a run's JavaScript are described there.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cascadian.workflow.node_api import NodeContext, NodeType, Routed, routed_handle
from cascadian.workflow.original.jsvalues import truthy
from cascadian.workflow.original.nodes.common import OriginalConfig, upstream

MAX_CODE = 100_000


class JavaScriptConfig(OriginalConfig):
    code: str = Field(min_length=1, max_length=MAX_CODE)


class ConditionalConfig(OriginalConfig):
    condition: str = Field(default="true", min_length=1, max_length=MAX_CODE)


def bindings(ctx: NodeContext) -> dict[str, Any]:
    values = upstream(ctx)
    return {"inputs": values, **{f"input{i}": v for i, v in enumerate(values, start=1)}}


async def _javascript(config: JavaScriptConfig, ctx: NodeContext) -> Any:
    return await ctx.run_javascript(config.code, bindings(ctx), what="JavaScript execution")


async def _conditional(config: ConditionalConfig, ctx: NodeContext) -> Routed:
    result = await ctx.run_javascript(
        f"return (\n{config.condition}\n);", bindings(ctx), what="Condition evaluation"
    )
    passed = truthy(result)
    values = upstream(ctx)
    forwarded: Any = passed if not values else values[0] if len(values) == 1 else values
    return Routed(forwarded, "true" if passed else "false")


JAVASCRIPT = NodeType(
    name="original-javascript",
    config_model=JavaScriptConfig,
    run=_javascript,
    description="The original's Custom Logic: a JavaScript function body over input1..N.",
    javascript=True,
)
CONDITIONAL = NodeType(
    name="original-conditional",
    config_model=ConditionalConfig,
    run=_conditional,
    branch=routed_handle,
    handles=("true", "false"),
    handleless_edges_run=True,
    description="A JavaScript condition over input1..N; routes to its true/false edges.",
    javascript=True,
)
