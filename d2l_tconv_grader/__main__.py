"""Entry point: ``python -m d2l_tconv_grader SUBMISSIONS_DIR --out OUT_DIR``."""

import sys

from .cli import main

sys.exit(main())
