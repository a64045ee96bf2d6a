"""The audit log's side of the store: the actor as every change function takes it
(migrations/027), so each change is written down, and scoped to a user's own
strategies, in the change's own transaction.
"""

from __future__ import annotations

from cascadian.data import Actor
from cascadian.store.transport import Json


def actor_arg(actor: Actor) -> Json:
    """`p_actor`, the jsonb argument each change function takes last."""
    return Json(
        {
            "kind": actor.kind,
            "user_id": None if actor.user_id is None else str(actor.user_id),
            "source": actor.source,
            "address": actor.address,
        }
    )
