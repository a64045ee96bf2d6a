"""The audit log: who changed which strategy, when, from where, and what changed."""
