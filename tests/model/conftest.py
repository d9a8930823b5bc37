"""Settings of the model-based tests: the model accounts, a virtual clock, no queued tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_shipping_orders.providers import reset_providers

from .world import model_accounts


@pytest.fixture
def model_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The two model accounts; a deferred drain runs only when the model says so."""
    settings.SHIPPING_ORDERS = model_accounts()
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    reset_providers()
    yield settings
    reset_providers()
