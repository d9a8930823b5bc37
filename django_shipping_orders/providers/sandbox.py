"""The bundled sandbox (``run_shipping_sandbox``), speaking Shippit's dialect on loopback."""

from __future__ import annotations

from typing import ClassVar

from .shippit import ShippitProvider

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8765/api/3"


class SandboxProvider(ShippitProvider):
    """Shippit's dialect against the local sandbox; plain http allowed, labels from loopback."""

    name: ClassVar[str] = "sandbox"
    default_base_url: ClassVar[str] = DEFAULT_SANDBOX_URL
    default_label_hosts: ClassVar[tuple[str, ...]] = ("127.0.0.1", "localhost")
    allows_plain_http: ClassVar[bool] = True
