"""The node types, one module each, registered through the `cascadian.nodes` entry points."""
