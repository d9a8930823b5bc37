"""Label downloads at the socket layer: no connection to a non-public address, however it is named.

Every socket ``connect`` is recorded. The public address ``PUBLIC`` stands for
a label host on the internet: connecting to it reaches a local TLS server
whose certificate names ``labels.example``. Every other address is refused
by the fake network, and recorded, so a test sees each attempt.
"""

from __future__ import annotations

import copy
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_shipping_orders import labels, services
from django_shipping_orders.addresses import is_public, pinned_session
from django_shipping_orders.exceptions import LabelError

from .conftest import make_pdf, read_label

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not shutil.which("openssl"), reason="openssl makes the test certificate"),
]

PUBLIC = "93.184.216.34"
HOSTS = ["labels.example", "internal.labels.example", "rebind.labels.example", "other.example"]


class Network:
    """Fake DNS and a recording ``connect``; PUBLIC leads to the local TLS server."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.connects: list[str] = []
        self.lookups: list[str] = []
        self.answers: dict[str, list[list[str]]] = {}
        self._real_getaddrinfo = socket.getaddrinfo
        self._real_connect = socket.socket.connect

    def answer(self, host: str, *answers: list[str]) -> None:
        """``host`` answers each list in turn (the last one for ever after)."""
        self.answers[host] = list(answers)

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.answers:  # numeric spellings resolve as the system does
            return self._real_getaddrinfo(host, port, *args, **kwargs)
        self.lookups.append(name)
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    def connect(self, sock: socket.socket, address: Any) -> None:
        self.connects.append(str(address[0]))
        if address[0] == PUBLIC:
            return self._real_connect(sock, ("127.0.0.1", self.server_port))
        raise ConnectionRefusedError(f"the test network refuses {address[0]}")

    def non_public_connects(self) -> list[str]:
        return [address for address in self.connects if not is_public(address)]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append((self.headers.get("Host", ""), self.path))
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    names = ",".join(f"DNS:{host}" for host in HOSTS if host != "other.example")
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=labels.example"]
    command += ["-addext", f"subjectAltName={names}"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def network(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    cert, key = certificate
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    Handler.routes, Handler.seen = {}, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    net = Network(server.server_address[1])
    monkeypatch.setattr(socket, "getaddrinfo", net.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: net.connect(sock, address))

    def trusting_session(**kwargs: Any) -> Any:
        session = pinned_session(**kwargs)
        session.verify = str(cert)  # trust the test certificate, and check names against it
        return session

    monkeypatch.setattr(labels, "pinned_session", trusting_session)
    try:
        yield net
    finally:
        monkeypatch.undo()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def shippit_labels(settings: Any) -> str:
    """A Shippit account whose labels may come from the test hosts and numeric spellings."""
    config = copy.deepcopy(settings.SHIPPING_ORDERS)
    config["ACCOUNTS"]["default"]["LABEL_HOSTS"] = [*HOSTS, *NUMERIC]
    settings.SHIPPING_ORDERS = config
    return "default"


NUMERIC = [
    "2130706433",  # decimal 127.0.0.1
    "0177.0.0.1",  # octal
    "0x7f.1",  # hexadecimal, short form
    "017700000001",  # one octal number
    "127.1",
    "::ffff:127.0.0.1",  # IPv4-mapped IPv6
    "::ffff:7f00:1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
]


def pdf_at(path: str) -> bytes:
    pdf = make_pdf("label")
    Handler.routes[path] = (200, {"Content-Type": "application/pdf"}, pdf)
    return pdf


def test_a_public_label_host_is_reached_at_the_address_checked_with_its_name_verified(
    network, shippit_labels, make_order
):
    network.answer("labels.example", [PUBLIC])
    pdf = pdf_at("/a.pdf")
    order = make_order(account=shippit_labels, label_url="https://labels.example/a.pdf")
    services.download_label(order.pk)
    order.refresh_from_db()
    assert read_label(order) == pdf
    assert network.connects == [PUBLIC]
    assert Handler.seen == [("labels.example", "/a.pdf")], "the Host header keeps the name"


def test_dns_rebinding_gets_no_second_lookup_and_no_private_connection(
    network, shippit_labels, make_order
):
    network.answer("rebind.labels.example", [PUBLIC], ["127.0.0.1"])
    pdf = pdf_at("/r.pdf")
    order = make_order(account=shippit_labels, label_url="https://rebind.labels.example/r.pdf")
    services.download_label(order.pk)
    order.refresh_from_db()
    assert read_label(order) == pdf
    assert network.lookups == ["rebind.labels.example"], "resolved once"
    assert network.non_public_connects() == []


def test_an_allow_listed_host_resolving_to_a_private_address_is_never_connected(
    network, shippit_labels, make_order
):
    network.answer("internal.labels.example", ["10.0.0.1"])
    order = make_order(account=shippit_labels, label_url="https://internal.labels.example/x.pdf")
    with pytest.raises(LabelError, match="non-public address"):
        services.download_label(order.pk)
    assert network.connects == []


def test_a_name_with_one_private_answer_among_public_ones_is_refused(
    network, shippit_labels, make_order
):
    network.answer("labels.example", [PUBLIC, "10.0.0.1"])
    order = make_order(account=shippit_labels, label_url="https://labels.example/a.pdf")
    with pytest.raises(LabelError, match="non-public address"):
        services.download_label(order.pk)
    assert network.connects == []


@pytest.mark.parametrize("host", NUMERIC)
def test_numeric_spellings_of_private_addresses_are_never_connected(
    network, shippit_labels, make_order, host
):
    shown = f"[{host}]" if ":" in host else host
    order = make_order(account=shippit_labels, label_url=f"https://{shown}/x.pdf")
    with pytest.raises(LabelError, match="non-public address"):
        services.download_label(order.pk)
    assert network.connects == []


@pytest.mark.parametrize(
    "location",
    [
        "https://internal.labels.example/x.pdf",  # allow-listed, resolves to 10.0.0.1
        "https://2130706433/x.pdf",  # allow-listed spelling of 127.0.0.1
        "https://[::ffff:127.0.0.1]/x.pdf",
        "http://10.0.0.1/x.pdf",  # off the allow-list
    ],
)
def test_a_redirect_to_a_private_address_is_never_followed(
    network, shippit_labels, make_order, location
):
    network.answer("labels.example", [PUBLIC])
    network.answer("internal.labels.example", ["10.0.0.1"])
    Handler.routes["/moved.pdf"] = (302, {"Location": location}, b"")
    order = make_order(account=shippit_labels, label_url="https://labels.example/moved.pdf")
    with pytest.raises(LabelError, match=r"non-public address|allow-list"):
        services.download_label(order.pk)
    assert network.connects == [PUBLIC]
    assert network.non_public_connects() == []


def test_tls_checks_the_certificate_against_the_name_not_the_address(
    network, shippit_labels, make_order
):
    network.answer("other.example", [PUBLIC])  # the certificate does not name it
    pdf_at("/a.pdf")
    order = make_order(account=shippit_labels, label_url="https://other.example/a.pdf")
    with pytest.raises(LabelError, match="SSLError"):
        services.download_label(order.pk)
    assert Handler.seen == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("2002:0a00:0001::", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("fec0::1", False),  # deprecated site-local
        ("feff::1", False),
        ("3fff::1", False),  # documentation (RFC 9637)
        ("3fff:fff::1", False),
        ("2001:db8::1", False),
        ("64:ff9b:1::a00:1", False),  # local-use NAT64
        ("198.18.0.1", False),  # benchmarking
    ],
)
def test_what_counts_as_public(address, public):
    assert is_public(address) is public
