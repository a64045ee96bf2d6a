"""The process's cyclic garbage collector, tuned for ticking.

A run allocates hundreds of container objects (tasks, futures, node records, the
outcome's JSON) that its end frees again by reference counting. With Python's
default first threshold (700 allocations) the collector still runs every few
runs and walks the young objects each time: about a tenth of a no-op run's CPU
(docs/performance.md, section 14). A higher threshold collects the same cycles,
less often; the young objects it lets pile up are a few MB at most. It is the
process's setting: set when the services are built, and kept (a later 0 does not
restore Python's).
"""

from __future__ import annotations

import gc

from cascadian.config import Settings


def tune_gc(settings: Settings) -> None:
    """Set the first threshold to CASCADIAN_GC_THRESHOLD (0: leave Python's)."""
    if settings.gc_threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(settings.gc_threshold, older, oldest)
