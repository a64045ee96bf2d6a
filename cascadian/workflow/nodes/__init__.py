"""The node types, one module each, registered through the `cascadian.nodes` entry points.

A node module never imports another: what they share lives in common.py (the items a
collection node reads, the comparison operators) and http_fetch.py (the guarded
request both http-request nodes send). tests/workflow/nodes/test_node_imports.py
checks it.
"""
