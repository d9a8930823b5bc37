"""The ``shipping_sandbox`` pytest fixture: a fresh provider sandbox per test.

Registered as a ``pytest11`` entry point, so any project that installs
django-shipping-orders can write ``def test_x(shipping_sandbox): ...`` and
point its shipping accounts at ``shipping_sandbox.shippit_url`` or
``shipping_sandbox.senderlv_url``. No Django settings are needed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import SandboxServer

#: The seed the fixture uses, so a failing test fails the same way again.
FIXTURE_SEED = 1234


@pytest.fixture
def shipping_sandbox() -> Iterator[SandboxServer]:
    """A started :class:`SandboxServer` on a free loopback port, stopped after the test.

    Real-time speed, seed ``FIXTURE_SEED``, no accounts: call
    ``add_account(key, dialect="shippit", callback_url=None, secret_header=None,
    secret=None)`` first, then ``process_all()`` or ``advance(seconds)`` to move
    orders along.
    """
    server = SandboxServer("127.0.0.1", 0, speed=1.0, seed=FIXTURE_SEED)
    server.start()
    try:
        yield server
    finally:
        server.stop()
