"""Outbound HTTP only to addresses we checked: resolve once, refuse non-public, connect to that.

Label URLs come from data a callback can carry, so a download must never reach
the shop's own network. Checking a name and then letting the HTTP library
resolve it again to connect leaves a gap (DNS rebinding: the name answers a
public address to the check and 127.0.0.1 to the connection). This module
closes it at the transport: :class:`PinnedAddressAdapter` resolves the host
of every request once, refuses it unless every address the name has is
public (for every host, allow-listed or not), and opens the connection to the
address it checked. TLS still verifies the certificate against the host name
(SNI and hostname check use the name, the socket uses the address). A
redirect is a new request through the same adapter, so it is checked again.

Numeric spellings (``2130706433``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``)
need no parsing of our own: they resolve to the address they spell, and the
address is what is checked. IPv4 addresses carried inside IPv6 (mapped,
6to4, NAT64) are checked as the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

Resolver = Callable[..., list[Any]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Networks that are not the public internet but that some Python versions' ``is_global``
#: still calls global: deprecated site-local IPv6 (RFC 3879), the IPv6 documentation
#: prefix (RFC 9637), the local NAT64 prefix (RFC 8215), ORCHIDv2 and benchmarking.
NON_PUBLIC_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("fec0::/10"),
    ipaddress.ip_network("3fff::/20"),
    ipaddress.ip_network("2001:db8::/32"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("2001:20::/28"),
    ipaddress.ip_network("2001:2::/48"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("100.64.0.0/10"),
)


class AddressRefused(requests.ConnectionError):
    """The host resolves to an address we do not connect to (or does not resolve)."""


def is_public(address: str) -> bool:
    """True for an address on the public internet: not private, loopback, link-local,
    multicast, reserved, unspecified or shared (CGNAT), whatever its spelling."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return False  # a tunnel to an address we cannot see
        carried = ip.ipv4_mapped or ip.sixtofour
        if carried is None and ip in _NAT64:
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if carried is not None:
            ip = carried
    return bool(
        ip.is_global
        and not (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
            or any(
                ip in network for network in NON_PUBLIC_NETWORKS if network.version == ip.version
            )
        )
    )


def resolve_checked(
    host: str, port: int, *, allow_private: bool = False, resolver: Resolver | None = None
) -> str:
    """The address to connect to for ``host``: resolved once, every answer checked."""
    resolve = resolver or socket.getaddrinfo
    try:
        infos = resolve(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise AddressRefused(f"cannot resolve {host!r} ({type(err).__name__})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise AddressRefused(f"{host!r} has no address")
    if not allow_private:
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            # One private answer is enough: a name for both worlds is not a label host.
            raise AddressRefused(f"{host!r} resolves to a non-public address")
    return addresses[0]


class PinnedAddressAdapter(HTTPAdapter):
    """A transport adapter that connects only to the address it checked for each request.

    ``allow_private`` lets loopback and private addresses through (the sandbox,
    which serves its labels on loopback); the connection is still made to the
    address resolved once. Proxies are not used: a proxy would resolve the
    name itself, past our check.
    """

    def __init__(
        self, *, allow_private: bool = False, resolver: Resolver | None = None, **kwargs: Any
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        super().__init__(**kwargs)

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        host = parts.hostname or ""
        default_port = 443 if parts.scheme == "https" else 80
        address = resolve_checked(
            host,
            parts.port or default_port,
            allow_private=self.allow_private,
            resolver=self.resolver,
        )
        # The Host header keeps the name: the socket goes to the address.
        shown = f"[{host}]" if ":" in host else host
        request.headers["Host"] = shown if not parts.port else f"{shown}:{parts.port}"
        request.pinned_address = address  # type: ignore[attr-defined]
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        verified = True if verify is None else verify
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(
            request, verified, cert
        )
        address = getattr(request, "pinned_address", None)
        if address is None:  # only send() may open connections
            raise AddressRefused("a connection without a checked address")
        name = host_params["host"]
        options: dict[str, Any] = dict(pool_kwargs)
        if host_params["scheme"] == "https":
            # SNI and the certificate check use the name; the socket uses the address.
            options.update(server_hostname=name, assert_hostname=name)
        return self.poolmanager.connection_from_host(
            address, host_params["port"], host_params["scheme"], pool_kwargs=options
        )


def pinned_session(
    *, allow_private: bool = False, resolver: Resolver | None = None
) -> requests.Session:
    """A session whose every request goes through :class:`PinnedAddressAdapter`."""
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment, no .netrc credentials
    adapter = PinnedAddressAdapter(allow_private=allow_private, resolver=resolver)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
