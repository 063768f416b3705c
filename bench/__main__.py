"""``python3 -m bench``: the command line (:mod:`bench.cli`)."""

from bench.cli import main

raise SystemExit(main())
