"""The ``steun`` command line: one module per command group, mounted on the root group in ``main``."""

from steun_lti.cli.main import main

__all__ = ["main"]
