"""Fixtures: one keel-server per test module, a flushed client per test."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keel_harness import KeelServer  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = KeelServer()
    try:
        s.start()
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def r(server):
    c = server.client()
    c.flushall()
    c.config_set("maxmemory", "0")
    yield c
    c.close()


@pytest.fixture
def rb(server):
    """A client that decodes replies to str."""
    c = server.client(decode_responses=True)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def live():
    """Servers a test starts (append them): each is killed and its files removed at the end."""
    made = []
    yield made
    for s in made:
        s.cleanup()
