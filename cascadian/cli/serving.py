"""uvicorn for `serve` and `demo`, stopping on SIGTERM or SIGINT by returning.

uvicorn shuts down gracefully on those signals and then raises the same signal
again, from inside the event loop, so that the process dies of it. That killed
`serve` before `atexit` stopped the embedded PostgreSQL, and in `demo` it left
anyio's worker thread (and so the process) running after the loop was gone. Here
the signal is only recorded: the command returns normally and its clean-up runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


class Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                # Read by uvicorn after this block to raise them again: not here.
                self.stopped_by = list(self._captured_signals)
                self._captured_signals.clear()
