"""The bundled sandbox (``run_shipping_sandbox``) on loopback, in either provider's dialect."""

from __future__ import annotations

from typing import ClassVar

from .senderlv import SenderLvProvider
from .shippit import ShippitProvider

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8765"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class SandboxProvider(ShippitProvider):
    """Shippit's dialect against the local sandbox; plain http and loopback labels allowed."""

    name: ClassVar[str] = "sandbox"
    default_base_url: ClassVar[str] = DEFAULT_SANDBOX_URL + "/api/3"
    default_label_hosts: ClassVar[tuple[str, ...]] = LOOPBACK_HOSTS
    allows_plain_http: ClassVar[bool] = True


class SandboxSenderLvProvider(SenderLvProvider):
    """Sender.lv's dialect against the local sandbox."""

    name: ClassVar[str] = "sandbox-senderlv"
    default_base_url: ClassVar[str] = DEFAULT_SANDBOX_URL + "/api/v1"
    default_label_hosts: ClassVar[tuple[str, ...]] = LOOPBACK_HOSTS
    allows_plain_http: ClassVar[bool] = True
