"""``python -m django_shipping_orders.sandbox``: help text and a clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import requests

from django_shipping_orders.sandbox.cli import parse_account

FLAGS = [
    "--host",
    "--port",
    "--speed",
    "--seed",
    "--cancel-share",
    "--drop-callbacks",
    "--duplicate-callbacks",
    "--reorder-callbacks",
    "--fail-rate",
    "--rate-limit",
    "--latency",
    "--garbage-rate",
    "--timeout-rate",
    "--timeout-seconds",
    "--state-file",
    "--account",
]
MODULE = [sys.executable, "-m", "django_shipping_orders.sandbox"]


def test_help_documents_every_flag():
    result = subprocess.run([*MODULE, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for flag in FLAGS:
        assert flag in result.stdout, flag


def test_account_option_parses_callback_header_and_secret():
    account = parse_account(
        "key1=senderlv,callback=http://h/cb?a=1,b=2,header=X-Secret,secret=s,rate_limit=5"
    )
    assert account.api_key == "key1" and account.dialect == "senderlv"
    assert account.callback_url == "http://h/cb?a=1,b=2"
    assert (account.secret_header, account.secret, account.rate_limit) == ("X-Secret", "s", 5)


def test_runs_until_ctrl_c_and_saves_state(tmp_path):
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        [
            *MODULE,
            "--port",
            "0",
            "--seed",
            "3",
            "--account",
            "k1=shippit",
            "--state-file",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("Sandbox listening on http://127.0.0.1:")
        url = first.split()[-1]
        r = requests.post(
            f"{url}/api/3/orders",
            json={"delivery_address": "1 St", "parcel_attributes": [{"weight": 1}]},
            headers={"Authorization": "Bearer k1"},
            timeout=5,
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Sandbox stopped." in out and "Traceback" not in err
    saved = json.loads(state.read_text())
    assert [o["ref"] for o in saved["orders"]] == [r.json()["response"]["tracking_number"]]
