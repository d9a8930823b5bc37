"""The sandbox's provider API over real loopback: placing, processing, labels, cancelling."""

from __future__ import annotations

import io
import json

import pypdf
import requests

from django_shipping_orders.sandbox import SandboxServer, pytest_plugin
from django_shipping_orders.sandbox.dialects import FIXTURE_DEFAULTS
from tests.conftest import load_fixture

shipping_sandbox = pytest_plugin.shipping_sandbox

ORDER = {
    "retailer_reference": "#OD1",
    "receiver_name": "Jane Doe",
    "delivery_address": "1 Test Street",
    "delivery_suburb": "Sydney",
    "delivery_state": "NSW",
    "delivery_postcode": "2000",
    "courier_type": "standard",
    "user_attributes": {"email": "jane@example.com", "first_name": "Jane", "last_name": "Doe"},
    "parcel_attributes": [{"qty": 1, "weight": 1.5}, {"qty": 1, "weight": 2}],
    "product_attributes": [{"sku": "SKU1", "title": "Mug", "quantity": 2, "price": "12.345"}],
}


def session(key: str, header: str = "Authorization") -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.headers[header] = f"Bearer {key}" if header == "Authorization" else key
    return s


def place(sandbox: SandboxServer, s: requests.Session, dialect: str = "shippit") -> str:
    base = sandbox.shippit_url if dialect == "shippit" else sandbox.senderlv_url
    r = s.post(f"{base}/orders", json={"order": ORDER}, timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    if dialect == "shippit":
        return body["response"]["tracking_number"]
    return body["order_reference"]


def test_shippit_order_goes_from_processing_to_labelled(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    r = s.post(f"{shipping_sandbox.shippit_url}/orders", json={"order": ORDER}, timeout=5)
    placed = r.json()["response"]
    tn = placed["tracking_number"]
    assert tn.startswith("PP") and len(tn) == 13 and tn[2:].isalnum()
    assert placed["state"] == "processing"

    doc = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}", timeout=5).json()
    assert set(FIXTURE_DEFAULTS) <= set(doc) and len(FIXTURE_DEFAULTS) == 34
    assert doc["tracking_number"] == tn and doc["state"] == "processing"
    assert doc["courier_job_id"] == "" and doc["label_url"] == "" and doc["pickup_at"] is None
    assert doc["courier_allocation"] == ""
    assert doc["tracking_url"] == f"{shipping_sandbox.url}/tracking/{tn}"
    assert doc["product_attributes"][0]["price"] == 12.35
    assert doc["receiver_name"] == "Jane Doe" and doc["retailer_invoice"] == "Retailer Invoice"
    assert all("label_number" not in p for p in doc["parcel_attributes"])

    assert shipping_sandbox.process_all() > 0
    doc = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}", timeout=5).json()
    assert doc["state"] == "order_placed"
    assert doc["courier_allocation"] in ("CouriersPlease", "Aramex", "StarTrack", "Australia Post")
    assert doc["courier_job_id"] and doc["label_url"].startswith(f"{shipping_sandbox.url}/labels/")
    assert doc["pickup_at"].endswith("+11:00")
    assert doc["parcel_attributes"][0]["label_number"].startswith(doc["courier_job_id"])

    shipping_sandbox.advance(120)
    doc = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}", timeout=5).json()
    assert doc["state"] == "despatch_in_progress"
    info = shipping_sandbox.order_info(tn)
    assert info["label_available"] and info["processed"]
    assert info["calls"]["GET /api/3/orders/{ref}"] == 3


def test_senderlv_order_is_accepted_with_label(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("lv", dialect="senderlv")
    s = session("lv", header="X-Api-Key")
    r = s.post(f"{shipping_sandbox.senderlv_url}/orders", json=ORDER, timeout=5)
    assert r.status_code == 200
    doc = r.json()
    ref = doc["order_reference"]
    assert ref.startswith("SLV") and ref[3:].isdigit() and "tracking_number" not in doc
    assert doc["state"] == "processing"

    shipping_sandbox.process_all()
    bearer = session("lv")
    doc = bearer.get(f"{shipping_sandbox.senderlv_url}/orders/{ref}", timeout=5).json()
    assert doc["state"] == "accepted"
    assert doc["courier_allocation"] in ("Omniva", "DPD", "Venipak")
    assert doc["courier_job_id"] and doc["label_url"] and doc["pickup_at"]

    shipping_sandbox.advance(3 * 86400)
    doc = bearer.get(f"{shipping_sandbox.senderlv_url}/orders/{ref}", timeout=5).json()
    assert doc["state"] == "completed"


def test_cancel_share_decides_how_processing_ends(shipping_sandbox):
    shipping_sandbox.add_account("k1")
    s = session("k1")
    shipping_sandbox.cancel_share = 1
    doomed = place(shipping_sandbox, s)
    shipping_sandbox.cancel_share = 0.5
    refs = [place(shipping_sandbox, s) for _ in range(40)]
    shipping_sandbox.process_all()

    doc = s.get(f"{shipping_sandbox.shippit_url}/orders/{doomed}", timeout=5).json()
    assert doc["state"] == "cancelled" and doc["courier_job_id"] == "" and doc["label_url"] == ""
    r = s.get(f"{shipping_sandbox.shippit_url}/orders/{doomed}/label", timeout=5)
    assert r.status_code == 422
    states = [
        s.get(f"{shipping_sandbox.shippit_url}/orders/{ref}", timeout=5).json()["state"]
        for ref in refs
    ]
    assert 5 <= states.count("cancelled") <= 35
    assert set(states) <= {"cancelled", "order_placed", "despatch_in_progress"}


def test_unknown_or_missing_key_is_403(shipping_sandbox):
    shipping_sandbox.add_account("k1")
    shipping_sandbox.add_account("lv", dialect="senderlv")
    url = f"{shipping_sandbox.shippit_url}/orders/PPxxxxxxxxxxx"
    expected = {
        "error": "invalid_merchant_account",
        "error_description": "An unknown error has occurred.",
    }
    for s in (session("nope"), requests.Session(), session("lv")):
        r = s.get(url, timeout=5)
        assert r.status_code == 403
        assert r.json() == expected


def test_unknown_reference_is_404_also_for_other_merchants_orders(shipping_sandbox):
    shipping_sandbox.add_account("k1")
    shipping_sandbox.add_account("k2")
    tn = place(shipping_sandbox, session("k1"))
    expected = {
        "error": "not_found",
        "error_description": "The requested resource could not be found.",
    }
    for s, ref in ((session("k1"), "PPunknown0000"), (session("k2"), tn)):
        r = s.get(f"{shipping_sandbox.shippit_url}/orders/{ref}", timeout=5)
        assert r.status_code == 404
        assert r.json() == expected


def test_senderlv_errors_follow_the_requested_language(shipping_sandbox):
    shipping_sandbox.add_account("lv", dialect="senderlv")
    s = session("lv")
    s.headers["x-api-lang-iso"] = "lv"
    r = s.get(f"{shipping_sandbox.senderlv_url}/orders/SLV1", timeout=5)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert "netika atrasts" in r.json()["error_description"]


def test_invalid_orders_are_422(shipping_sandbox):
    shipping_sandbox.add_account("k1")
    s = session("k1")
    url = f"{shipping_sandbox.shippit_url}/orders"
    no_address = {k: v for k, v in ORDER.items() if k != "delivery_address"}
    for body in ({"order": no_address}, {"order": {**ORDER, "parcel_attributes": []}}):
        r = s.post(url, json=body, timeout=5)
        assert r.status_code == 422
        assert r.json()["error"] == "invalid_order" and r.json()["error_description"]
    r = s.post(url, data=b"{not json", timeout=5)
    assert r.status_code == 400


def test_label_is_422_until_allocated_then_a_real_pdf(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    tn = place(shipping_sandbox, s)
    r = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}/label", timeout=5)
    assert r.status_code == 422 and r.json()["error"] == "order_not_available_to_label"

    shipping_sandbox.process_all()
    r = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}/label", timeout=5)
    assert r.status_code == 200
    label = r.json()["response"]
    assert label["order"]["tracking_number"] == tn
    job_id = label["order"]["courier_job_id"]
    assert [p["label_number"] for p in label["order"]["parcels"]] == [
        f"{job_id}001",
        f"{job_id}002",
    ]

    pdf = requests.get(label["qualified_url"], timeout=5)  # pre-signed: no key needed
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content), strict=True)
    assert len(reader.pages) == 1
    assert round(float(reader.pages[0].mediabox.width)) == 298  # A6
    text = reader.pages[0].extract_text()
    assert tn in text and job_id in text and "Jane Doe" in text

    assert requests.get(label["qualified_url"] + "0", timeout=5).status_code == 403
    shipping_sandbox.advance(8 * 86400)  # pre-signed links expire after 7 days
    assert requests.get(label["qualified_url"], timeout=5).status_code == 403


def test_delete_cancels_until_in_transit(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    early, late = place(shipping_sandbox, s), place(shipping_sandbox, s)

    r = s.delete(f"{shipping_sandbox.shippit_url}/orders/{early}", timeout=5)
    assert r.status_code == 200
    cancelled = r.json()["response"]  # the whole order, keyed as the published example
    assert set(cancelled) == set(load_fixture("shippit/cancel_200.json")["response"])
    assert (cancelled["tracking_number"], cancelled["state"]) == (early, "cancelled")
    shipping_sandbox.process_all()
    assert s.get(f"{shipping_sandbox.shippit_url}/orders/{early}", timeout=5).json()["state"] == (
        "cancelled"
    )

    shipping_sandbox.advance(4 * 3600)
    r = s.delete(f"{shipping_sandbox.shippit_url}/orders/{late}", timeout=5)
    assert r.status_code == 422
    assert r.json()["error"] == "order_cannot_be_cancelled"
    assert r.json()["order_state"] == "in_transit"


def test_booking_answers_one_entry_per_courier_with_its_manifest(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    refs = [place(shipping_sandbox, s) for _ in range(4)]
    url = f"{shipping_sandbox.shippit_url}/book"
    r = s.post(url, json={"orders": refs}, timeout=5)
    assert r.status_code == 200
    (refused,) = r.json()["response"]  # no label yet: one failed entry naming them
    assert refused["success"] is False and refused["orders"] == refs
    assert refs[0] in refused["error_description"]
    r = s.post(url, json={"orders": ["PP0"] * 1001}, timeout=5)
    assert r.status_code == 422

    shipping_sandbox.process_all()
    r = s.post(url, json={"orders": refs}, timeout=5)
    assert r.status_code == 200
    entries = r.json()["response"]
    documented = set(load_fixture("shippit/book_200.json")["response"][0])
    assert all(set(entry) == documented and entry["success"] for entry in entries)
    couriers = {shipping_sandbox.order_info(ref)["courier"] for ref in refs}
    assert len(entries) == len(couriers)
    assert sum(entry["order_count"] for entry in entries) == len(refs)
    printed = ""
    for entry in entries:
        pdf = requests.get(entry["manifest_pdf"], timeout=5)
        printed += pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert all(ref in printed for ref in refs)
    doc = s.get(f"{shipping_sandbox.shippit_url}/orders/{refs[0]}", timeout=5).json()
    assert doc["state"] == "ready_for_pickup"


def test_a_failing_courier_manifest_names_its_orders(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    refs = [place(shipping_sandbox, s) for _ in range(6)]
    shipping_sandbox.process_all()
    courier = {ref: shipping_sandbox.order_info(ref)["courier"] for ref in refs}
    failing = courier[refs[0]]
    shipping_sandbox.set_faults(failing_manifests=[failing])

    entries = s.post(f"{shipping_sandbox.shippit_url}/book", json={"orders": refs}, timeout=5)
    entries = entries.json()["response"]

    (failed,) = [e for e in entries if not e["success"]]
    assert failed["orders"] == [ref for ref in refs if courier[ref] == failing]
    assert failed["error"] and failed["error_description"]
    assert shipping_sandbox.order_info(refs[0])["booked_at"] is None


def test_tracking_lists_title_case_events_newest_first(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    tn = place(shipping_sandbox, s)
    shipping_sandbox.process_all()
    shipping_sandbox.advance(4 * 3600)
    body = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}/tracking", timeout=5).json()
    track = body["response"]["track"]
    assert body["response"]["success"] is True
    assert body["response"]["tracking_url"].endswith(f"/tracking/{tn}")
    assert [t["status"] for t in track][:2] == ["In Transit", "Ready For Pick Up"]
    documented = set(load_fixture("shippit/tracking_200.json")["response"]["track"][0])
    assert all(set(t) == documented for t in track)
    assert track[0]["date"] > track[1]["date"] and track[0]["status_owner"]
    page = requests.get(body["response"]["tracking_url"], timeout=5)
    assert page.status_code == 200 and "In Transit" in page.text


def test_same_seed_gives_the_same_run():
    def run() -> list[tuple[str, float, str]]:
        with SandboxServer(seed=99) as sandbox:
            sandbox.add_account("k1")
            s = session("k1")
            for _ in range(6):
                place(sandbox, s)
            sandbox.process_all()
            return [
                (o["reference"], round(o["processing_seconds"], 6), o["state"])
                for o in sandbox.orders()
            ]

    first, second = run(), run()
    assert first == second
    assert len({seconds for _, seconds, _ in first}) == 6
    assert all(1 <= seconds <= 1200 for _, seconds, _ in first)


def test_control_api_over_http(shipping_sandbox):
    base = f"{shipping_sandbox.url}/_sandbox"
    r = requests.post(f"{base}/accounts", json={"api_key": "k9", "dialect": "senderlv"}, timeout=5)
    assert r.status_code == 201 and r.json()["dialect"] == "senderlv"
    assert requests.post(f"{base}/accounts", json={"dialect": "x"}, timeout=5).status_code == 400
    ref = place(shipping_sandbox, session("k9"), dialect="senderlv")

    before = requests.get(f"{base}/clock", timeout=5).json()["epoch"]
    after = requests.post(f"{base}/advance", json={"seconds": 3600}, timeout=5).json()["epoch"]
    assert after - before >= 3600
    faults = requests.post(f"{base}/faults", json={"latency_ms": 1}, timeout=5).json()
    assert faults["latency_ms"] == 1
    assert requests.post(f"{base}/faults", json={"nope": 1}, timeout=5).status_code == 400
    assert requests.post(f"{base}/faults", json={"fail_rate": 2}, timeout=5).status_code == 400

    orders = requests.get(f"{base}/orders", timeout=5).json()
    assert orders[0]["reference"] == ref and orders[0]["dialect"] == "senderlv"
    assert orders[0]["processed"] and orders[0]["processed_at"].endswith("+11:00")
    assert orders[0]["api_calls"] == 1
    stats = requests.get(f"{base}/stats", timeout=5).json()
    assert stats["routes"]["POST /api/v1/orders"] == 1 and stats["keys"]["k9"] == 1
    assert stats["statuses"]["200"] >= 1 and stats["max_requests_per_60s"]["k9"] == 1


def test_state_file_keeps_orders_across_restarts(tmp_path):
    path = tmp_path / "sandbox.json"
    with SandboxServer(seed=5, state_file=path) as first:
        first.add_account("k1")
        tn = place(first, session("k1"))
        stopped_at = first.now()
    assert path.exists()
    with SandboxServer(seed=5, state_file=path) as second:
        assert second.now() >= stopped_at
        r = session("k1").get(f"{second.shippit_url}/orders/{tn}", timeout=5)
        assert r.status_code == 200 and r.json()["tracking_number"] == tn


def test_fixture_exposes_the_documented_surface(shipping_sandbox):
    assert shipping_sandbox.url.startswith("http://127.0.0.1:")
    assert shipping_sandbox.shippit_url == shipping_sandbox.url + "/api/3"
    assert shipping_sandbox.senderlv_url == shipping_sandbox.url + "/api/v1"
    assert shipping_sandbox.accounts() == []
    assert shipping_sandbox.process_all() == 0
    assert shipping_sandbox.stats()["requests"] == 0 and shipping_sandbox.orders() == []
    assert shipping_sandbox.set_faults(latency_ms=0).latency_ms == 0


def test_document_keeps_every_key_and_default_of_the_documented_example(
    shipping_sandbox, get_order_200
):
    shipping_sandbox.add_account("k1")
    s = session("k1")
    tn = place(shipping_sandbox, s)
    doc = s.get(f"{shipping_sandbox.shippit_url}/orders/{tn}", timeout=5).json()
    assert set(get_order_200) <= set(doc)
    assert set(doc) - set(get_order_200) == {
        "tracking_number",
        "courier_job_id",
        "tracking_url",
        "label_url",
    }
    provider_decided = {"state", "courier_allocation", "parcel_attributes", "product_attributes"}
    for key, value in get_order_200.items():
        if key in provider_decided or key.endswith("_at"):
            continue
        assert FIXTURE_DEFAULTS[key] == value, key


def test_chunked_request_bodies_are_read(shipping_sandbox):
    shipping_sandbox.add_account("k1")
    body = json.dumps({"order": ORDER}).encode()
    r = session("k1").post(
        f"{shipping_sandbox.shippit_url}/orders",
        data=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["response"]["tracking_number"].startswith("PP")
