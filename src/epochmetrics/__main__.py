import sys

from epochmetrics.cli import main

sys.exit(main())
