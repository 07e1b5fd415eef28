"""Rate limits, origins and honeypots: pure checks with a fake clock."""

from __future__ import annotations

from services.ingest.protection import (
    ClientNetworks,
    TokenBucket,
    honeypot_tripped,
    origin_allowed,
    retry_after_header,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestTokenBucket:
    def test_burst_then_refusal_then_refill(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(per_minute=60, burst=3, clock=clock)
        assert [bucket.take("a") for _ in range(3)] == [0, 0, 0]
        wait = bucket.take("a")
        assert 0 < wait <= 1
        assert retry_after_header(wait) == "1"
        clock.now += 1
        assert bucket.take("a") == 0

    def test_clients_have_their_own_buckets(self) -> None:
        bucket = TokenBucket(per_minute=1, burst=1, clock=FakeClock())
        assert bucket.take("a") == 0
        assert bucket.take("b") == 0
        assert bucket.take("a") > 0

    def test_a_key_with_its_own_rate_gets_its_own_limit_and_burst(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(per_minute=600, burst=100, clock=clock)
        assert [bucket.take("slow", per_minute=2) for _ in range(2)] == [0, 0]
        wait = bucket.take("slow", per_minute=2)
        assert 29 < wait <= 30
        assert bucket.take("fast") == 0
        clock.now += 30
        assert bucket.take("slow", per_minute=2) == 0

    def test_memory_is_bounded(self) -> None:
        bucket = TokenBucket(per_minute=1, burst=1, max_keys=10, clock=FakeClock())
        for i in range(100):
            bucket.take(str(i))
        assert len(bucket._buckets) == 10


class TestOrigin:
    def test_no_configured_origins_allow_anything(self) -> None:
        assert origin_allowed([], None, None)

    def test_only_listed_origins_pass(self) -> None:
        allowed = ["https://www.example.com"]
        assert origin_allowed(allowed, "https://www.example.com", None)
        assert origin_allowed(allowed, "HTTPS://WWW.EXAMPLE.COM", None)
        assert not origin_allowed(allowed, "https://evil.example", None)
        assert not origin_allowed(allowed, None, None)

    def test_referer_stands_in_for_a_missing_origin(self) -> None:
        assert origin_allowed(["https://www.example.com"], None, "https://www.example.com/pricing?x=1")


def test_honeypot_trips_only_when_filled() -> None:
    assert honeypot_tripped("_gotcha", {"_gotcha": "http://spam"})
    assert not honeypot_tripped("_gotcha", {"_gotcha": ""})
    assert not honeypot_tripped("_gotcha", {})
    assert not honeypot_tripped(None, {"_gotcha": "x"})


def test_loopback_is_exempt_by_network() -> None:
    networks = ClientNetworks(["127.0.0.0/8", "::1/128"])
    assert "127.0.0.1" in networks
    assert "::1" in networks
    assert "203.0.113.9" not in networks
    assert "testclient" not in networks
