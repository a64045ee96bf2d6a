"""What operators do across strategies at once: the runs list of every strategy,
and bulk pause, resume or stop over a filtered selection. The API, the CLI and
the console call these services alike."""
