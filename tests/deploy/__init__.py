"""Tests of deploy/: the install scripts, units, rules and the service's watchdog."""

import os
from pathlib import Path

# Downloads kept between test runs (debootstrap's tarball, apt's and pip's packages, npm's).
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "library-kiosk-tests"
