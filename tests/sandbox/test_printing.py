"""What the sandbox's PDFs print: every receiver's name, and the published label documents."""

from __future__ import annotations

import io

import pypdf
import pytest

from django_shipping_orders.sandbox import pytest_plugin
from tests.conftest import load_fixture

from .test_orders import ORDER, session

shipping_sandbox = pytest_plugin.shipping_sandbox


def _label_text(sandbox, name: str) -> str:
    s = session("k1")
    placed = s.post(
        f"{sandbox.shippit_url}/orders", json={"order": {**ORDER, "receiver_name": name}}
    )
    ref = placed.json()["response"]["tracking_number"]
    sandbox.process_all()
    url = s.get(f"{sandbox.shippit_url}/orders/{ref}/label").json()["response"]["qualified_url"]
    pdf = s.get(url).content
    return pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("Roberts Zariņš", "Roberts Zariņš"),
        ("Иван Петров", "Иван Петров"),
        ("山田太郎", "ShanTianTaiLang"),
        ("محمد علي", "mhmd `ly"),
        ("สมชาย ใจดี", "smchay"),
        ("Zoë 😀", "Zoë :grinning:"),
        ("\ud800bad", "U+D800bad"),
    ],
)
def test_every_name_prints_as_written_or_visibly_transliterated(shipping_sandbox, name, printed):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")

    text = _label_text(shipping_sandbox, name)

    assert printed in text


def test_the_label_answer_lists_the_published_archive_awb_and_serves_it(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    ref = s.post(f"{shipping_sandbox.shippit_url}/orders", json={"order": ORDER}).json()[
        "response"
    ]["tracking_number"]
    shipping_sandbox.process_all()

    answer = s.get(f"{shipping_sandbox.shippit_url}/orders/{ref}/label").json()["response"]
    documents = answer["order"]["documents"]
    published = load_fixture("shippit/label_200.json")["response"]["order"]["documents"]

    assert set(documents) == set(published) == {"archive_awb"}  # a domestic order
    awb = documents["archive_awb"]
    assert set(awb) == set(published["archive_awb"])
    assert (awb["page_size"], awb["file_type"]) == ("a6", "pdf")
    pdf = s.get(awb["url"])
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content == s.get(answer["qualified_url"]).content  # the label itself
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert ref in text and "SANDBOX LABEL" in text


def test_tracking_says_ready_for_pick_up_as_published(shipping_sandbox):
    shipping_sandbox.cancel_share = 0
    shipping_sandbox.add_account("k1")
    s = session("k1")
    ref = s.post(f"{shipping_sandbox.shippit_url}/orders", json={"order": ORDER}).json()[
        "response"
    ]["tracking_number"]
    shipping_sandbox.process_all()
    shipping_sandbox.advance(4 * 3600)

    track = s.get(f"{shipping_sandbox.shippit_url}/orders/{ref}/tracking").json()["response"]
    published = [
        t["status"] for t in load_fixture("shippit/tracking_200.json")["response"]["track"]
    ]

    statuses = [t["status"] for t in track["track"]]
    assert "Ready For Pick Up" in statuses and "Ready For Pick Up" in published
    assert set(statuses) <= set(published) | {"Processing"}
