"""Entry point: ``python -m hello_service``."""

import sys

from hello_service.server import main

sys.exit(main())
