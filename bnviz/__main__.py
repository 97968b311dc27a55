"""``python -m bnviz``: see `bnviz.cli`."""

import sys

from bnviz.cli import main

sys.exit(main())
