"""``python -m helpers`` is the ``workbook`` command."""

from .cli import main

raise SystemExit(main())
