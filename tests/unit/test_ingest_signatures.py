"""Each platform's signature scheme, checked against a signature computed the documented way."""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.ingest import signatures

SECRET = "s3cret"
BODY = b'{"object":"page","entry":[]}'


def _hex(message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


class TestFacebook:
    def test_valid_signature_passes(self) -> None:
        assert signatures.facebook_valid(SECRET, BODY, "sha256=" + _hex(BODY))

    def test_tampered_body_missing_or_unprefixed_header_fails(self) -> None:
        assert not signatures.facebook_valid(SECRET, BODY + b" ", "sha256=" + _hex(BODY))
        assert not signatures.facebook_valid(SECRET, BODY, None)
        assert not signatures.facebook_valid(SECRET, BODY, _hex(BODY))


class TestTypeform:
    def test_base64_signature_passes_and_hex_fails(self) -> None:
        digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
        assert signatures.typeform_valid(SECRET, BODY, "sha256=" + base64.b64encode(digest).decode())
        assert not signatures.typeform_valid(SECRET, BODY, "sha256=" + digest.hex())


class TestLinkedIn:
    # LinkedIn's webhook-validation guide: "the HMACSHA256 hash of the JSON-encoded string
    # representation of the POST body prefixed by `hmacsha256=`", keyed with the clientSecret.
    def test_signature_over_the_prefixed_body_passes_with_or_without_the_header_prefix(self) -> None:
        signed = _hex(b"hmacsha256=" + BODY)
        assert signatures.linkedin_valid(SECRET, BODY, "hmacsha256=" + signed)
        assert signatures.linkedin_valid(SECRET, BODY, signed)
        assert signatures.linkedin_valid(SECRET, BODY, signed.upper())

    def test_signature_over_the_bare_body_or_another_body_fails(self) -> None:
        assert not signatures.linkedin_valid(SECRET, BODY, "hmacsha256=" + _hex(BODY))
        assert not signatures.linkedin_valid(SECRET, BODY, "hmacsha256=" + _hex(b"hmacsha256=other"))
        assert not signatures.linkedin_valid(SECRET, BODY, None)

    def test_challenge_response_is_the_hmac_of_the_code(self) -> None:
        assert signatures.linkedin_challenge_response(SECRET, "abc") == _hex(b"abc")


class TestHubSpot:
    def _sign(self, timestamp: str) -> str:
        message = b"POST" + b"https://baton.example/v1/webhooks/hubspot" + BODY + timestamp.encode()
        return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()

    def test_fresh_signature_passes(self) -> None:
        now = 1_700_000_000_000
        assert signatures.hubspot_v3_valid(
            SECRET,
            method="POST",
            uri="https://baton.example/v1/webhooks/hubspot",
            body=BODY,
            timestamp=str(now),
            header=self._sign(str(now)),
            now_ms=now + 1000,
        )

    def test_stale_timestamp_fails_even_when_signed(self) -> None:
        then = 1_700_000_000_000
        assert not signatures.hubspot_v3_valid(
            SECRET,
            method="POST",
            uri="https://baton.example/v1/webhooks/hubspot",
            body=BODY,
            timestamp=str(then),
            header=self._sign(str(then)),
            now_ms=then + 6 * 60 * 1000,
        )


def test_shared_key_must_be_a_matching_string() -> None:
    assert signatures.shared_key_valid("k", "k")
    assert not signatures.shared_key_valid("k", "x")
    assert not signatures.shared_key_valid("k", None)


def test_webflow_signs_timestamp_and_body_and_refuses_replays() -> None:
    now = 1_700_000_000_000
    signature = _hex(f"{now}:".encode() + BODY)
    assert signatures.webflow_valid(SECRET, BODY, timestamp=str(now), header=signature, now_ms=now + 10)
    assert not signatures.webflow_valid(
        SECRET, BODY, timestamp=str(now), header=signature, now_ms=now + 400_000
    )
    assert not signatures.webflow_valid(SECRET, BODY + b"x", timestamp=str(now), header=signature, now_ms=now)
