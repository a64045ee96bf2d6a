"""The original Cascadian builder's node types, with its semantics (`original-*`).

workflow/original/translate.py turns a saved original graph into these; docs/nodes.md
says what each keeps of the original and where it differs on purpose.
"""
