"""Test session setup: kernels compile into a per-session cache folder unless the
caller chose one, so a test run never writes into the source tree."""

import os
import tempfile

os.environ.setdefault("KERASISH_CACHE_DIR", os.path.join(tempfile.gettempdir(), "kerasish-test-cache"))
