"""What `pip install` gets: the package with its migrations, templates, static files and
type marker, and nothing of the example shop, the tests or the benchmarks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.metadata import Metadata

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (built,) = out.glob("django_shipping_orders-*.whl")
    return zipfile.ZipFile(built)


@pytest.fixture(scope="module")
def wheel_names(wheel: zipfile.ZipFile) -> list[str]:
    return wheel.namelist()


def test_wheel_metadata_is_valid_and_names_the_license_by_spdx(wheel):
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    # validate=True raises on any field the core metadata spec does not allow.
    metadata = Metadata.from_email(wheel.read(name), validate=True)
    assert metadata.name == "django-shipping-orders"
    assert metadata.license_expression == "MIT"
    assert metadata.license_files == ["LICENSE"]
    assert f"{name.rpartition('/')[0]}/licenses/LICENSE" in wheel.namelist()
    # PEP 639 replaces License :: classifiers (deprecated by setuptools) with the expression.
    assert not [c for c in metadata.classifiers or [] if c.startswith("License ::")]


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
