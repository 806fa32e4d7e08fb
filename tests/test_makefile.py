"""The Makefile as a new user runs it on a machine where apt may be busy."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = (Path(__file__).resolve().parents[1] / "Makefile").read_text()


def test_every_apt_get_waits_for_the_dpkg_lock() -> None:
    """`make test` failed at once when unattended-upgrades held the lock (issue 17). Checked by
    hand: with the timeout apt-get waits for the holder and goes on, without it exits 100."""
    assert re.search(r"^APT = apt-get -o DPkg::Lock::Timeout=600$", MAKEFILE, re.MULTILINE)
    calls = [
        line for line in MAKEFILE.splitlines() if "apt-get" in line and not line.startswith("#")
    ]
    assert calls == ["APT = apt-get -o DPkg::Lock::Timeout=600"], calls
    assert MAKEFILE.count("$(APT) update") == MAKEFILE.count("$(APT) install") == 2
