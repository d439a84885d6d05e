"""``python -m devcluster up|down|status``."""

import sys

from devcluster import main

sys.exit(main(sys.argv[1:]))
