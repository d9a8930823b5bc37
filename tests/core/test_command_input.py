"""Commands given bad settings or odd command-line values: a one-line error and a documented status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]

# The test settings' cache culls (check E012); one that does not, so that the
# storage alias is the only mistake.
GOOD_CACHE = """
from tests.settings import *
CACHES = {"default": {**CACHES["default"], "OPTIONS": {"MAX_ENTRIES": 1_000_000}}}
"""

BAD_STORAGE = (
    GOOD_CACHE
    + """
SHIPPING_ORDERS = {**SHIPPING_ORDERS, "LABEL_STORAGE": "nope"}
"""
)


def manage(tmp_path: Path, settings_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "odd_settings.py").write_text(settings_text)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "odd_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_an_unknown_label_storage_is_a_check_error_not_an_import_crash(tmp_path):
    result = manage(tmp_path, BAD_STORAGE, "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "(shipping_orders.E007)" in result.stderr
    assert "'nope', which is not in STORAGES" in result.stderr
    assert "HINT: Name a key of settings.STORAGES" in result.stderr


@pytest.mark.parametrize("command", ["shipping_orders_status", "refresh_shipping_orders"])
def test_skip_checks_is_still_accepted(tmp_path, command):
    result = manage(tmp_path, BAD_STORAGE, command, "--skip-checks", "--help")
    assert result.returncode == 0 and "--skip-checks" in result.stdout


@pytest.mark.parametrize("command", ["shipping_orders_status", "refresh_shipping_orders"])
def test_bad_settings_exit_2_with_one_line(tmp_path, command):
    result = manage(tmp_path, BAD_STORAGE, command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "shipping_orders.E007" in line and "manage.py check" in line


def test_bad_settings_under_json_print_a_json_error(tmp_path):
    result = manage(tmp_path, BAD_STORAGE, "shipping_orders_status", "--json")
    assert result.returncode == 2
    answer = json.loads(result.stdout)
    assert "shipping_orders.E007" in answer["error"]
    assert answer["healthy"] is None


def run(command: str, *args: str) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, str(error)
    return 0, out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "args", "status", "text"),
    [
        (
            "shipping_orders_status",
            ["--max-due-age", "99999999999999999999d"],
            2,
            "too long an age",
        ),
        ("prune_shipping_callbacks", ["--older-than", "99999999999d", "--dry-run"], 1, "too long"),
        ("prune_shipping_callbacks", ["--older-than", "999999999d", "--dry-run"], 1, "year 1"),
        ("reprocess_shipping_callbacks", ["--since", "999999999d"], 1, "year 1"),
        (
            "reprocess_shipping_callbacks",
            ["--ids", "99999999999999999999999"],
            1,
            "is not a record id",
        ),
        ("reprocess_shipping_callbacks", ["--ids", "-3"], 1, "is not a record id"),
        ("refresh_shipping_orders", ["--reference", "\udc80"], 2, "is not valid text"),
        ("refresh_shipping_orders", ["--reference", "A\x00B"], 2, "NUL"),
        ("shipping_orders_status", ["--max-budget-share", "2"], 2, "from 0 to 1"),
        ("shipping_orders_status", ["--max-budget-share", "nan"], 2, "from 0 to 1"),
        ("shipping_orders_status", ["--max-budget-share", "inf"], 2, "from 0 to 1"),
        ("shipping_orders_status", ["--max-budget-share", "x"], 2, "from 0 to 1"),
    ],
)
def test_odd_values_are_readable_errors(command, args, status, text):
    code, message = run(command, *args)
    assert code == status
    assert text in message


@pytest.mark.django_db
def test_a_budget_share_in_range_is_accepted():
    code, _ = run("shipping_orders_status", "--max-budget-share", "0.5")
    assert code == 0


def test_refresh_on_an_unmigrated_database_asks_for_migrate(tmp_path):
    settings_text = GOOD_CACHE + (
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {str(tmp_path / 'empty.sqlite3')!r}}}}}\n"
    )
    result = manage(tmp_path, settings_text, "refresh_shipping_orders")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "has migrate run?" in result.stderr
