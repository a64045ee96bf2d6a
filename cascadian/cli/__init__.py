"""The `cascadian` command (typer + rich): migrate, serve, tick, worker, strategies, demo."""
