"""Each fault switch produces the fault it names, on the provider API only."""

from __future__ import annotations

import time

import pytest
import requests

from django_shipping_orders.sandbox import Faults, SandboxServer, pytest_plugin

shipping_sandbox = pytest_plugin.shipping_sandbox

ORDER = {"delivery_address": "1 Test Street", "parcel_attributes": [{"qty": 1, "weight": 1}]}


@pytest.fixture
def api(shipping_sandbox):
    """A session on a Shippit account with one processed order; returns (session, order URL)."""
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = "Bearer k1"
    r = s.post(f"{shipping_sandbox.shippit_url}/orders", json=ORDER, timeout=5)
    tn = r.json()["response"]["tracking_number"]
    shipping_sandbox.process_all()
    yield s, f"{shipping_sandbox.shippit_url}/orders/{tn}"
    s.close()


def test_fail_rate_answers_500_or_503_with_an_error_body(shipping_sandbox, api):
    s, url = api
    shipping_sandbox.set_faults(fail_rate=1)
    responses = [s.get(url, timeout=5) for _ in range(12)]
    assert {r.status_code for r in responses} == {500, 503}
    assert all(set(r.json()) == {"error", "error_description"} for r in responses)
    # Labels and the control API are not affected.
    label_url = shipping_sandbox.order_info(url.rsplit("/", 1)[1])
    assert label_url["label_available"]
    assert requests.get(f"{shipping_sandbox.url}/_sandbox/stats", timeout=5).status_code == 200
    shipping_sandbox.set_faults(fail_rate=0)
    label = s.get(f"{url}/label", timeout=5).json()["response"]["qualified_url"]
    shipping_sandbox.set_faults(fail_rate=1)
    assert requests.get(label, timeout=5).status_code == 200
    assert shipping_sandbox.stats()["faults"]["fail"] == 12


def test_rate_limit_answers_429_with_retry_after_per_simulated_minute(shipping_sandbox, api):
    s, url = api
    shipping_sandbox.set_faults(rate_limit=3)
    assert [s.get(url, timeout=5).status_code for _ in range(3)] == [200, 200, 200]
    r = s.get(url, timeout=5)
    assert r.status_code == 429
    retry_after = int(r.headers["Retry-After"])
    assert retry_after >= 1 and retry_after <= 60
    assert r.json()["error"] == "too_many_requests"
    stats = shipping_sandbox.stats()
    assert stats["throttled"] == 1 and stats["max_requests_per_60s"]["k1"] >= 4

    shipping_sandbox.advance(61)  # the window is simulated time
    assert s.get(url, timeout=5).status_code == 200


def test_per_account_rate_limit_overrides_the_fault(shipping_sandbox, api):
    s, url = api
    shipping_sandbox.add_account("k1", rate_limit=1)
    assert [s.get(url, timeout=5).status_code for _ in range(2)] == [200, 429]


def test_garbage_rate_answers_200_with_invalid_json(shipping_sandbox, api):
    s, url = api
    shipping_sandbox.set_faults(garbage_rate=1)
    for _ in range(5):
        r = s.get(url, timeout=5)
        assert r.status_code == 200
        with pytest.raises(ValueError):
            r.json()
    r = s.get(f"{shipping_sandbox.shippit_url}/orders/PPnope", timeout=5)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_timeout_rate_holds_the_request_past_the_client_timeout(shipping_sandbox, api):
    s, url = api
    shipping_sandbox.set_faults(timeout_rate=1, timeout_seconds=0.4)
    # The client gives up first (a read timeout, not an answer): the request is held.
    with pytest.raises(requests.ReadTimeout):
        s.get(url, timeout=0.15)
    # Held for timeout_seconds, then the connection closes with no answer.
    with pytest.raises(requests.ConnectionError):
        s.get(url, timeout=2)
    shipping_sandbox.set_faults(timeout_rate=0)
    assert s.get(url, timeout=5).status_code == 200
    assert shipping_sandbox.stats()["statuses"]["timeout"] == 2


def test_latency_delays_every_answer(shipping_sandbox, api):
    s, url = api
    shipping_sandbox.set_faults(latency_ms=150)
    # A lower bound only: the server sleeps before it answers, whatever the machine's load.
    started = time.monotonic()
    assert s.get(url, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.15
    # Held past a client timeout shorter than the latency, so the delay is the server's.
    with pytest.raises(requests.ReadTimeout):
        s.get(url, timeout=0.05)


def test_fault_draws_repeat_with_the_seed():
    def statuses(seed: int) -> list[int]:
        with SandboxServer(seed=1, faults=Faults(fail_rate=0.5, seed=seed)) as sandbox:
            sandbox.add_account("k1")
            url = f"{sandbox.shippit_url}/orders/PPnope"
            headers = {"Authorization": "Bearer k1"}
            return [requests.get(url, headers=headers, timeout=5).status_code for _ in range(16)]

    first = statuses(3)
    assert first == statuses(3)
    assert 404 in first and ({500, 503} & set(first))


def test_faults_reject_nonsense():
    with pytest.raises(ValueError):
        Faults(fail_rate=1.5)
    with pytest.raises(ValueError):
        Faults().with_changes(unknown=1)
