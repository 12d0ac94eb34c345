"""What a test does when a service or tool it needs is missing: skip on a developer's machine,
fail under CI (``CI`` set), where .ci/run provides everything and a skip would hide a fault."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
