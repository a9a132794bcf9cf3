"""The webhook address policy: the host allowlist, private and special ranges (IPv4, IPv6,
IPv4 inside IPv6), the configured exceptions, and the send-time resolution (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import re
import time

import pytest

from ingest.notify.urls import (
    LookupFailed,
    Refused,
    UrlPolicy,
    address_refusal,
    check_url,
    resolve_target,
)
from models.settings import Settings

ANY_HOST = UrlPolicy(allowed_hosts=("*",), allowed_networks=())


def policy(hosts: str = "*", networks: str = "") -> UrlPolicy:
    configured = {
        "NORTHSTAR_WEBHOOK_ALLOWED_HOSTS": hosts,
        "NORTHSTAR_WEBHOOK_ALLOWED_NETWORKS": networks,
    }
    return UrlPolicy.from_settings(Settings(**configured))


REFUSED = {
    "127.0.0.1": "a loopback address",
    "127.8.9.10": "a loopback address",
    "::1": "a loopback address",
    "0.0.0.0": "an unspecified address",  # noqa: S104  (an address refused, not bound)
    "::": "an unspecified address",
    "10.0.0.1": "a private address",
    "172.16.5.4": "a private address",
    "192.168.1.1": "a private address",
    "fd12:3456::1": "a private address",
    "169.254.169.254": "a link-local address",
    "fe80::1": "a link-local address",
    "224.0.0.251": "a multicast address",
    "ff02::1": "a multicast address",
    "240.0.0.1": "a reserved address",
    "100.64.0.1": "a non-public address",
    "::ffff:127.0.0.1": "a loopback address (127.0.0.1 inside it)",
    "::ffff:10.0.0.1": "a private address (10.0.0.1 inside it)",
    "64:ff9b::a9fe:a9fe": "a link-local address (169.254.169.254 inside it)",
    "2002:7f00:1::1": "a loopback address (127.0.0.1 inside it)",
}


@pytest.mark.parametrize(("address", "kind"), REFUSED.items())
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), ANY_HOST) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), ANY_HOST) is None


def test_configured_networks_are_allowed_even_when_private() -> None:
    internal = policy(networks="127.0.0.1/32, 10.20.0.0/16")
    for allowed in ("127.0.0.1", "10.20.3.4", "::ffff:10.20.3.4"):
        assert address_refusal(ipaddress.ip_address(allowed), internal) is None
    for refused in ("127.0.0.2", "10.21.0.1", "::1"):
        assert address_refusal(ipaddress.ip_address(refused), internal) is not None


@pytest.mark.parametrize(
    ("hosts", "host", "allowed"),
    [
        ("hooks.slack.com", "hooks.slack.com", True),
        ("hooks.slack.com", "HOOKS.Slack.com.", True),
        ("hooks.slack.com", "evil-hooks.slack.com", False),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "badexample.com", False),
        ("*", "anything.example.org", True),
        ("", "hooks.slack.com", False),
    ],
)
def test_the_host_allowlist(hosts: str, host: str, allowed: bool) -> None:
    url = f"https://{host}/hook"
    if allowed:
        assert check_url(url, policy(hosts)).host == host.lower().rstrip(".")
    else:
        with pytest.raises(Refused, match="is not in NORTHSTAR_WEBHOOK_ALLOWED_HOSTS"):
            check_url(url, policy(hosts))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/x", "must start with https://"),
        ("file:///etc/passwd", "must start with https://"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
        ("https:///nohost", "needs a host"),
        ("https://hooks.example.com:99999/", "malformed"),
        ("", "1 to 2000 characters"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        check_url(url, policy())


def test_the_request_target_and_host_header_keep_path_query_and_port() -> None:
    checked = check_url("https://Hooks.Example.com:8443/a/b?x=1&y=2", policy())
    assert (checked.host, checked.port, checked.target) == (
        "hooks.example.com",
        8443,
        "/a/b?x=1&y=2",
    )
    assert checked.host_header == "hooks.example.com:8443"
    assert check_url("https://[2606:4700::1]/", policy()).host_header == "[2606:4700::1]"


def test_the_address_connected_to_is_the_one_checked_and_rebinding_is_refused() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    first = resolve_target("https://hooks.example.com/x", policy(), timeout_s=1, resolver=rebinding)
    assert first.address == "93.184.216.34"
    with pytest.raises(Refused) as refused:
        resolve_target("https://hooks.example.com/x", policy(), timeout_s=1, resolver=rebinding)
    assert str(refused.value) == (
        "hooks.example.com resolves to 127.0.0.1, a loopback address, not allowed for webhooks"
    )


def test_one_private_answer_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(Refused, match=re.escape("10.0.0.7, a private address")):
        resolve_target(
            "https://hooks.example.com/x",
            policy(),
            timeout_s=1,
            resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"],
        )


def test_plain_http_only_to_configured_networks() -> None:
    public = lambda host, port: ["93.184.216.34"]  # noqa: E731
    with pytest.raises(Refused, match="plain http is only allowed"):
        resolve_target("http://hooks.example.com/x", policy(), timeout_s=1, resolver=public)
    internal = policy(networks="10.20.0.0/16")
    target = resolve_target(
        "http://relay.internal/x", internal, timeout_s=1, resolver=lambda h, p: ["10.20.0.5"]
    )
    assert (target.address, target.url.port) == ("10.20.0.5", 80)


def test_a_slow_or_failing_lookup_is_worth_retrying() -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(1)
        return ["93.184.216.34"]

    def failing(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    started = time.monotonic()
    with pytest.raises(LookupFailed, match=re.escape("took longer than 0.1 s")):
        resolve_target("https://hooks.example.com/", policy(), timeout_s=0.1, resolver=slow)
    assert time.monotonic() - started < 0.8
    with pytest.raises(LookupFailed, match="does not resolve"):
        resolve_target("https://hooks.example.com/", policy(), timeout_s=1, resolver=failing)


def test_a_bad_network_setting_stops_start_up() -> None:
    with pytest.raises(ValueError, match="is not a network"):
        Settings(**{"NORTHSTAR_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8, intranet"})
