"""`python -m mlcadence.cli ARGS` is `mlcadence ARGS` (how `up` starts its services)."""

from mlcadence.cli import main

main()
