"""`python -m cascadian`: the `cascadian` command, for an install without the script on PATH."""

from cascadian.cli.main import main

main()
