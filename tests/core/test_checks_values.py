"""Check ``shipping_orders.E013``: values of the right type that cannot work, each with a hint."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_shipping_orders.checks.values import check_values

GOOD = {"PROVIDER": "shippit", "API_KEY": "k", "CALLBACK_SECRETS": ["s"]}


def run(setting):
    with override_settings(SHIPPING_ORDERS=setting):
        messages = check_values()
    for message in messages:
        assert message.hint and "docs/settings.md" in message.hint
        assert message.id == "shipping_orders.E013"
    return [message.msg for message in messages]


def test_a_good_configuration_passes():
    account = {
        **GOOD,
        "CALLBACK_ALLOWED_IPS": ["203.0.113.7", "198.51.100.0/24", "2001:db8::/32"],
        "LABEL_HOSTS": ["shippit.com"],
        "STATE_MAP": {"with_courier": "in_transit"},
        "BASE_URL": "https://app.staging.shippit.com/api/3",
    }
    assert run({"ACCOUNTS": {"au-main_2.x": account}}) == []


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("CALLBACK_ALLOWED_IPS", ["203.0.113.300"], "'203.0.113.300', which is not an IP"),
        ("CALLBACK_ALLOWED_IPS", "203.0.113.7", "is one string"),
        ("LABEL_HOSTS", "shippit.com", "['LABEL_HOSTS'] is one string"),
        ("STATE_MAP", {"with_courier": "in_transti"}, "'in_transti', which is not a known state"),
        ("BASE_URL", "ftp://app.shippit.com/api/3", "not an http(s) address"),
        ("BASE_URL", "app.shippit.com/api/3", "not an http(s) address"),
    ],
)
def test_values_that_cannot_work(key, value, text):
    [message] = run({"ACCOUNTS": {"a": {**GOOD, key: value}}})
    assert text in message


@pytest.mark.parametrize("alias", ["au/main", "my shop", "", "..", "a?b"])
def test_an_alias_that_cannot_be_in_the_callback_url(alias):
    [message] = run({"ACCOUNTS": {alias: GOOD}})
    assert "cannot be a part of its callback URL" in message


def test_label_root_pointing_at_a_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("x")
    [message] = run({"ACCOUNTS": {"a": GOOD}, "LABEL_ROOT": str(path)})
    assert "which is a file, not a directory" in message
    assert run({"ACCOUNTS": {"a": GOOD}, "LABEL_ROOT": str(tmp_path / "not-yet")}) == []


@pytest.mark.parametrize(
    ("label_root", "warned"),
    [("media/labels", True), ("media", True), ("private-media", False), ("mediaeval", False)],
)
def test_w023_labels_inside_media_root_are_served_to_anyone(tmp_path, label_root, warned):
    setting = {"ACCOUNTS": {"default": GOOD}, "LABEL_ROOT": str(tmp_path / label_root)}
    with override_settings(SHIPPING_ORDERS=setting, MEDIA_ROOT=str(tmp_path / "media")):
        messages = check_values()
    assert [m.id for m in messages] == (["shipping_orders.W023"] if warned else [])
    if warned:
        assert "MEDIA_ROOT" in messages[0].msg and "private-media" in messages[0].hint


@pytest.mark.parametrize("given", [{}, {"LABEL_ROOT": None}, {"LABEL_ROOT": ""}])
def test_w023_the_default_label_folder_inside_media_root_is_found(tmp_path, given):
    setting = {"ACCOUNTS": {"default": GOOD}, **given}
    with override_settings(SHIPPING_ORDERS=setting, BASE_DIR=tmp_path, MEDIA_ROOT=str(tmp_path)):
        messages = check_values()
    assert [m.id for m in messages] == ["shipping_orders.W023"]


def test_a_lazy_label_root_is_read_as_its_text(tmp_path):
    from django.utils.functional import SimpleLazyObject

    (tmp_path / "file").write_text("x")
    lazy = SimpleLazyObject(lambda: str(tmp_path / "file"))
    with override_settings(SHIPPING_ORDERS={"ACCOUNTS": {"default": GOOD}, "LABEL_ROOT": lazy}):
        messages = check_values()
    assert [m.id for m in messages] == ["shipping_orders.E013"]
