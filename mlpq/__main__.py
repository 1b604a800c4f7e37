"""`python -m mlpq` is the `mlpq` command."""

from mlpq.cli import main

raise SystemExit(main())
