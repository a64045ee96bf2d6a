"""User JavaScript, run out of the scheduler's process.

The `javascript` and `conditional` nodes of the original builder evaluate code a user
wrote. None of it runs in the process that ticks, serves the API and answers
`/api/health`: each evaluation goes to a sandbox process (`child.py`, QuickJS with no
host bindings) from a pool of warm ones (`pool.py`), over length-prefixed frames on
its stdin and stdout (`protocol.py`). The child has OS-enforced CPU and memory limits
on top of QuickJS's own; the parent kills it at a wall-clock deadline and starts
another when one is needed. Only JSON text comes back, capped in size, and the parent
decodes it with `json.loads`, so no user code ever runs here. Per-run and per-process
caps (`quota.py`) bound how many evaluations one run has in flight and how much
output its JavaScript may hand back. The limits and errors are in `limits.py`.
"""
