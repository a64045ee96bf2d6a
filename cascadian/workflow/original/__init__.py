"""The original Cascadian builder, in one place: its saved graphs translated to the
engine's own, its expression syntax, its market fields, and its node types (`nodes/`)."""
