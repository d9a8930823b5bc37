"""What `pip install` gets: the package with its migrations, templates, static files and
type marker, and nothing of the example shop, the tests or the benchmarks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = out.glob("django_shipping_orders-*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_wheel_carries_migrations_templates_static_and_type_marker(wheel_names):
    package = "django_shipping_orders/"
    assert package + "py.typed" in wheel_names
    assert package + "migrations/0001_initial.py" in wheel_names
    assert package + "static/shipping_orders/admin.css" in wheel_names
    assert package + "templates/admin/shipping_orders/order/change_form.html" in wheel_names
    assert package + "sandbox/__main__.py" in wheel_names


def test_wheel_leaves_out_the_example_shop_tests_and_benchmarks(wheel_names):
    top_level = {name.split("/", 1)[0] for name in wheel_names}
    assert not top_level & {"example_project", "tests", "bench", "docs"}
    assert {n for n in top_level if not n.endswith(".dist-info")} == {"django_shipping_orders"}
