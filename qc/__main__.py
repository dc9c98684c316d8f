"""Entry point of `python -m qc` (see `qc.cli`)."""

import sys

from qc.cli import main

sys.exit(main())
