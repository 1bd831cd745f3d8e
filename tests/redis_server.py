"""The Redis the tests use: KEFU_TEST_REDIS_URL, or database 15 of the local server."""

from __future__ import annotations

import os

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
