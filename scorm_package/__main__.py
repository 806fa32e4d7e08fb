"""``python -m scorm_package``: the same as ``python build_scorm.py``."""

import sys

from scorm_package.cli import main

sys.exit(main())
