"""Secrets are blanked out of provider data only when they cannot spell ordinary data."""

from __future__ import annotations

from django.test import override_settings

from django_shipping_orders.redaction import MIN_DATA_SECRET_LENGTH, scrub, scrub_bytes


def _settings(secret: str, api_key: str) -> dict:
    return {
        "ACCOUNTS": {
            "default": {
                "PROVIDER": "shippit",
                "API_KEY": api_key,
                "CALLBACK_SECRETS": [secret],
            }
        },
        "SINGLE_PROCESS": True,
    }


def test_a_long_secret_echoed_in_a_body_is_blanked_out():
    secret = "x" * MIN_DATA_SECRET_LENGTH
    with override_settings(SHIPPING_ORDERS=_settings(secret, "k" * 20)):
        body = f'{{"tracking_number": "PP1", "receiver_name": "{secret}"}}'.encode()
        assert secret.encode() not in scrub_bytes(body)


def test_a_short_secret_does_not_rewrite_order_data_but_is_hidden_in_text():
    with override_settings(SHIPPING_ORDERS=_settings("s3cret", "k")):
        body = b'{"tracking_number": "A-s3cret-1"}'
        assert scrub_bytes(body) == body
        assert "s3cret" not in scrub("refused: s3cret")


def test_the_password_of_a_url_in_an_error_is_scrubbed():
    from django_shipping_orders.redaction import REDACTED, scrub

    text = "Error 111 connecting to redis://:hunter2@queue:6379/0 and amqp://user:pw@mq/vhost"
    scrubbed = scrub(text)
    assert "hunter2" not in scrubbed and "user:pw" not in scrubbed
    assert f"redis://{REDACTED}@queue:6379/0" in scrubbed
    assert scrub("mail me at someone@example.com, see https://example.com/a@b") == (
        "mail me at someone@example.com, see https://example.com/a@b"
    )
