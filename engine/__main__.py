"""`python -m engine train spec.json`: train locally with a progress bar (see engine/cli.py)."""

from engine.cli import main

raise SystemExit(main())
