"""`python -m condolake.cli`: the same command line as `condolake`."""

import sys

from condolake.cli import main

sys.exit(main())
