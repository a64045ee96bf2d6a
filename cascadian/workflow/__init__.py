"""The workflow engine: graphs, the executor, node types and their HTTP helpers."""
