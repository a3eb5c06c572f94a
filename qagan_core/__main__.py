"""``python -m qagan_core ...``: see ``qagan_core.cli``."""

from .cli import main

raise SystemExit(main())
