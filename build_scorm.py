#!/usr/bin/env python3
"""Build the course packages: ``python build_scorm.py [--standard scorm12|scorm2004] [--out DIR]``.

See docs/author.md. Thin wrapper around ``scorm_package.cli`` so it runs from a checkout.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scorm_package.cli import main

if __name__ == "__main__":
    sys.exit(main())
