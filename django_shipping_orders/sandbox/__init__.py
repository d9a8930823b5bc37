"""The bundled provider sandbox: a real HTTP server speaking Shippit's and
Sender.lv's dialects, with a fast-forwardable clock and faults on demand.

It imports nothing from Django, so it runs anywhere: ``python -m
django_shipping_orders.sandbox``, in-process in tests (see the
``shipping_sandbox`` pytest fixture), or behind the demo project.
"""

from .faults import Faults
from .server import SandboxServer
from .world import SandboxAccount, Schedule

__all__ = ["Faults", "SandboxAccount", "SandboxServer", "Schedule"]
