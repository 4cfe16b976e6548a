"""``python -m nbtrack``: the same command as the ``nbtrack`` script."""

from __future__ import annotations

from nbtrack.cli import main

raise SystemExit(main())
