"""`python -m nexus_desktop` runs the same command as `nexus-desktop`."""

import sys

from nexus_desktop.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
