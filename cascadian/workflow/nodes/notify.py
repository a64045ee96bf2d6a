"""notify: send the strategy's owner a notification.

Title and message may use templates, e.g. "Added ${watch.added} markets". The type
defaults to CASCADIAN_NOTIFY_TYPE (`strategy_update`, which an existing Cascadian
deployment's notifications CHECK accepts). The owner's notification settings may
suppress it. Output: {"notification_id": id or null, "suppressed": bool}.
Services used: the node store, the clock, the settings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cascadian.data import ORIGINAL_NOTIFICATION_TYPES as ORIGINAL_TYPES
from cascadian.data import Notification
from cascadian.errors import StoreRejected
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeError, NodeType


class NotifyConfig(NodeConfig):
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=4000)
    type: str | None = Field(default=None, min_length=1, max_length=64)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    link: str | None = Field(default=None, max_length=2000)


async def run(config: NotifyConfig, ctx: NodeContext) -> dict[str, Any]:
    if ctx.workflow.user_id is None:
        raise NodeError("the strategy has no owner to notify")
    notification = Notification(
        user_id=ctx.workflow.user_id,
        workflow_id=ctx.workflow.id,
        title=config.title,
        message=config.message,
        type=config.type or ctx.services.settings.notify_type,
        priority=config.priority,
        link=config.link if config.link is not None else f"/strategies/{ctx.workflow.id}",
        metadata={"execution_id": str(ctx.workflow.execution_id), "node_id": ctx.node_id},
    )
    try:
        sent = await ctx.services.node_store().notify(notification, ctx.services.clock.now())
    except StoreRejected as exc:
        raise NodeError(
            f"the database refused the notification (type {notification.type!r}): {exc}. "
            f"An existing Cascadian deployment accepts the types {', '.join(ORIGINAL_TYPES)}"
        ) from None
    return {"notification_id": sent, "suppressed": sent is None}


NOTIFY = NodeType(
    name="notify",
    config_model=NotifyConfig,
    run=run,
    description="Notify the strategy's owner; title and message may use templates.",
)
