"""``python -m agents run ...`` (see ``agents.cli``)."""

from agents.cli import main

raise SystemExit(main())
