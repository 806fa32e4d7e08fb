"""The local demo: a demo LMS and the orchestration behind ``steun demo`` (``make demo``).

Nothing here is part of the product a school runs: the demo LMS stands in for a school's learning
platform so that someone without an LMS at hand can walk the whole journey on one machine. It
reuses the test suite's fake LTI platform (``tests/support/platform.py``), so it runs from a
checkout of the repository only.
"""
