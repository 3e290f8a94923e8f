"""OriginPolicy: which pages' WebSocket handshakes proceed, from Origin and Host alone."""

from __future__ import annotations

import pytest

from stompbox.security.origins import OriginPolicy


class TestSameOrigin:
    """The default: a page of the endpoint's own host and port, and clients with no Origin."""

    policy = OriginPolicy(None)

    def test_no_origin_is_not_a_page_and_passes(self) -> None:
        assert self.policy.allows(None, "broker.example.com")
        assert self.policy.allows(None, None)

    @pytest.mark.parametrize(
        ("origin", "host"),
        [
            ("http://127.0.0.1:8000", "127.0.0.1:8000"),
            ("https://app.example.com", "app.example.com"),
            ("https://app.example.com", "app.example.com:443"),
            ("https://app.example.com:443", "app.example.com"),
            ("http://app.example.com", "app.example.com:80"),
            ("HTTPS://App.Example.COM", "app.EXAMPLE.com"),
            ("http://[::1]:8000", "[::1]:8000"),
        ],
    )
    def test_same_host_and_port_pass(self, origin: str, host: str) -> None:
        assert self.policy.allows(origin, host)

    @pytest.mark.parametrize(
        ("origin", "host"),
        [
            ("http://evil.example", "app.example.com"),
            ("http://localhost:8000", "127.0.0.1:8000"),  # same machine, another origin
            ("http://127.0.0.1:8001", "127.0.0.1:8000"),
            ("https://app.example.com", "app.example.com:80"),  # 443 is not 80
            ("http://app.example.com", "app.example.com:443"),
            ("http://app.example.com", None),  # no Host to compare with
            ("http://app.example.com", "app.example.com, app.example.com"),
            ("chrome-extension://app.example.com", "app.example.com"),
        ],
    )
    def test_another_host_port_or_scheme_default_is_refused(
        self, origin: str, host: str | None
    ) -> None:
        assert not self.policy.allows(origin, host)

    @pytest.mark.parametrize(
        "origin",
        [
            "",
            "app.example.com",
            "http://app.example.com/",
            "http://app.example.com/page",
            "http://user@app.example.com",
            "http://app.example.com:99999",
            "http://*.example.com",
            "http://a.example.com, http://a.example.com",  # two Origin headers, joined
        ],
    )
    def test_malformed_origins_are_refused(self, origin: str) -> None:
        assert not self.policy.allows(origin, "app.example.com")

    def test_null_origin_is_refused(self) -> None:
        """Sandboxed frames and file: pages send ``null``: it names no site to trust."""
        assert not self.policy.allows("null", "app.example.com")

    def test_an_empty_list_is_same_origin_only(self) -> None:
        empty = OriginPolicy([])
        assert empty.allows("http://app.example.com", "app.example.com")
        assert not empty.allows("http://evil.example", "app.example.com")


class TestAllowedOrigins:
    def test_exact_origin_needs_scheme_host_and_port(self) -> None:
        policy = OriginPolicy(["https://app.example.com", "http://localhost:3000"])
        assert policy.allows("https://app.example.com", "broker.example.com")
        assert policy.allows("https://app.example.com:443", "broker.example.com")
        assert policy.allows("https://APP.example.com", "broker.example.com")
        assert policy.allows("http://localhost:3000", "127.0.0.1:15674")
        assert not policy.allows("http://app.example.com", "broker.example.com")
        assert not policy.allows("https://app.example.com:8443", "broker.example.com")
        assert not policy.allows("https://www.app.example.com", "broker.example.com")
        assert not policy.allows("http://localhost", "127.0.0.1:15674")
        assert not policy.allows("http://localhost:3001", "127.0.0.1:15674")

    def test_same_origin_still_passes_beside_a_list(self) -> None:
        policy = OriginPolicy(["https://app.example.com"])
        assert policy.allows("https://broker.example.com", "broker.example.com")
        assert not policy.allows("https://evil.example", "broker.example.com")

    def test_wildcard_matches_subdomains_not_the_apex(self) -> None:
        policy = OriginPolicy(["https://*.example.com"])
        assert policy.allows("https://app.example.com", "broker.test")
        assert policy.allows("https://a.b.example.com", "broker.test")
        assert policy.allows("https://app.example.com:443", "broker.test")
        assert not policy.allows("https://example.com", "broker.test")
        assert not policy.allows("https://evilexample.com", "broker.test")
        assert not policy.allows("https://app.example.com.evil.test", "broker.test")

    def test_apex_passes_when_listed_too(self) -> None:
        policy = OriginPolicy(["https://*.example.com", "https://example.com"])
        assert policy.allows("https://example.com", "broker.test")

    def test_wildcard_needs_the_scheme_and_port(self) -> None:
        policy = OriginPolicy(["https://*.example.com", "http://*.dev.test:8080"])
        assert not policy.allows("http://app.example.com", "broker.test")
        assert not policy.allows("https://app.example.com:8443", "broker.test")
        assert policy.allows("http://app.dev.test:8080", "broker.test")
        assert not policy.allows("http://app.dev.test", "broker.test")

    def test_null_passes_only_when_listed(self) -> None:
        policy = OriginPolicy(["null"])
        assert policy.allows("null", "broker.test")
        assert not policy.allows("http://evil.example", "broker.test")

    def test_star_allows_any_origin(self) -> None:
        policy = OriginPolicy(["*"])
        for origin in ("http://evil.example", "null", "https://x.test:1"):
            assert policy.allows(origin, "broker.test")

    def test_entries_are_kept_as_given(self) -> None:
        assert OriginPolicy(["https://app.example.com"]).allowed == ("https://app.example.com",)
        assert OriginPolicy(None).allowed is None


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("app.example.com", "needs a scheme"),
        ("https://app.example.com/", "no path"),
        ("https://app.example.com/chat", "no path"),
        ("https://user@app.example.com", "no user name"),
        ("https://*example.com", "whole first label"),
        ("https://app.*.example.com", "whole first label"),
        ("https://*", "whole first label"),
        ("*.example.com", "needs a scheme"),
        ("https://app.example.com:0", "not 1-65535"),
        ("https://app.example.com:70000", "not 1-65535"),
        ("https://*.[::1]", "domain name"),
        ("https://app.example.com:port", "expected scheme://host"),
        ("", "needs a scheme"),
    ],
)
def test_a_bad_entry_is_named_in_the_error(entry: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        OriginPolicy([entry])
    assert repr(entry) in str(caught.value)


def test_a_string_instead_of_a_list_is_an_error() -> None:
    """Iterating it would allow nothing but single characters, silently."""
    with pytest.raises(ValueError, match="list of origins"):
        OriginPolicy("https://app.example.com")
