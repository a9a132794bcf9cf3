"""Where webhooks may go: the host allowlist and the address policy (an SSRF guard).

A webhook URL is checked twice. When an admin saves it (:func:`check_url`: scheme, no
credentials, host on ``NORTHSTAR_WEBHOOK_ALLOWED_HOSTS``) and at every send
(:func:`resolve_target`): the host is resolved then, every address it resolves to must be
public (or inside ``NORTHSTAR_WEBHOOK_ALLOWED_NETWORKS``), and the sender connects to the
address that was checked, never resolving the name again. So a name that first resolves to a
public address and later to 127.0.0.1 (DNS rebinding) cannot reach the inside.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from models.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port)`` → the addresses the host resolves to."""

MAX_URL = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(ValueError):
    """The URL may not be used; the message says why (shown to admins, stored on the
    delivery)."""


class LookupFailed(OSError):
    """The host could not be resolved now (no answer, or too slow): worth trying again."""


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    allowed_hosts: tuple[str, ...]
    """Lower-case host names; ``*.example.com`` matches subdomains, ``*`` any host."""
    allowed_networks: tuple[Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        hosts = (
            h.strip().strip("[]").lower().rstrip(".")
            for h in settings.webhook_allowed_hosts.split(",")
        )
        networks = (n.strip() for n in settings.webhook_allowed_networks.split(","))
        return cls(
            allowed_hosts=tuple(h for h in hosts if h),
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks if n),
        )

    def host_allowed(self, host: str) -> bool:
        for allowed in self.allowed_hosts:
            if allowed == "*" or allowed == host:
                return True
            if allowed.startswith("*.") and host.endswith(allowed[1:]):
                return True
        return False

    def network_allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allowed_networks)


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that passed the static checks."""

    scheme: str
    host: str
    """Lower-case, IDNA-encoded, without brackets (an IPv6 literal) or a trailing dot."""
    port: int
    target: str
    """The request target: path and query (``/hooks/abc?x=1``)."""

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if _DEFAULT_PORTS[self.scheme] == self.port else f"{shown}:{self.port}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect: the checked URL and the one address checked for it."""

    url: CheckedUrl
    address: str


def check_url(url: str, policy: UrlPolicy) -> CheckedUrl:
    """The static checks of a webhook URL (no network): http(s), no user name or password, a
    host on the allowlist.

    Raises:
        Refused: saying which check failed.
    """
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL:
        raise Refused(f"a webhook URL must be 1 to {MAX_URL} characters")
    if not url.isprintable() or any(ch.isspace() for ch in url):
        raise Refused("a webhook URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise Refused("the webhook URL is malformed") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise Refused("a webhook URL must start with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise Refused("a webhook URL may not carry a user name or password")
    host = _normal_host(parts.hostname or "")
    if not policy.host_allowed(host):
        raise Refused(f"host {host} is not in NORTHSTAR_WEBHOOK_ALLOWED_HOSTS")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return CheckedUrl(scheme, host, port or _DEFAULT_PORTS[scheme], target)


def _normal_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise Refused("a webhook URL needs a host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise Refused("the webhook URL's host name is invalid") from exc


def address_refusal(address: IPAddress, policy: UrlPolicy) -> str | None:
    """What kind of address ``address`` is when webhooks may not reach it (``a loopback
    address``), or None when they may."""
    if policy.network_allowed(address):
        return None
    for embedded in _embedded_ipv4(address):
        if policy.network_allowed(embedded):
            return None
        kind = address_refusal(embedded, policy)
        if kind is not None:
            return f"{kind} ({embedded} inside it)"
    for kind, flagged in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
        ("a non-public", not address.is_global),
    ):
        if flagged:
            return f"{kind} address"
    return None


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to: IPv4-mapped, 6to4, Teredo, NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address.teredo is not None:
        found.append(address.teredo[1])
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def resolve_target(
    url: str, policy: UrlPolicy, *, timeout_s: float, resolver: Resolver | None = None
) -> Target:
    """Check ``url`` and resolve its host now: the address to connect to, if every address
    the host resolves to is allowed. Plain http is accepted only to allowed networks.

    Raises:
        Refused: the URL fails a static check, or an address is not allowed.
        LookupFailed: the host does not resolve (now).
    """
    checked = check_url(url, policy)
    addresses = _resolve(checked.host, checked.port, timeout_s, resolver or system_resolver)
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    for address in parsed:
        kind = address_refusal(address, policy)
        if kind is None:
            continue
        if checked.host == str(address):
            raise Refused(f"{address} is {kind}, not allowed for webhooks")
        raise Refused(f"{checked.host} resolves to {address}, {kind}, not allowed for webhooks")
    if checked.scheme == "http" and not all(policy.network_allowed(a) for a in parsed):
        raise Refused("plain http is only allowed to NORTHSTAR_WEBHOOK_ALLOWED_NETWORKS")
    return Target(checked, str(parsed[0]))


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve(host: str, port: int, timeout_s: float, resolver: Resolver) -> Sequence[str]:
    # getaddrinfo has no timeout of its own: wait for it in a thread, at most timeout_s.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve")
    try:
        addresses = pool.submit(resolver, host, port).result(timeout=timeout_s)
    except concurrent.futures.TimeoutError as exc:
        raise LookupFailed(f"looking up {host} took longer than {timeout_s:g} s") from exc
    except OSError as exc:
        raise LookupFailed(f"{host} does not resolve ({exc.strerror or exc})") from exc
    finally:
        pool.shutdown(wait=False)
    if not addresses:
        raise LookupFailed(f"{host} does not resolve")
    return addresses
