"""``python -m tessera_client URL COMMAND ...`` (see tessera_client.cli)."""

import sys

from .cli import main

sys.exit(main())
