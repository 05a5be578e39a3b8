"""Fixtures for the feed tests: a raw loopback server for faults (repwatch/loopback_faults.py)."""
from __future__ import annotations

import pytest

from repwatch.loopback_faults import RawHTTPServer


@pytest.fixture
def raw_server():
    with RawHTTPServer() as server:
        yield server
