"""The original Cascadian builder's vocabulary: its saved graphs translated to the
engine's own, its expression syntax, and its market fields."""
