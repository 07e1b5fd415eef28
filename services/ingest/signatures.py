"""Webhook signature checks, as each platform documents them. Pure: bytes and secrets in, bool out."""

from __future__ import annotations

import base64
import hashlib
import hmac

LINKEDIN_PREFIX = b"hmacsha256="


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def facebook_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Meta: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret as key>`."""
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(header.removeprefix("sha256="), _hmac(secret, body).hex())


def typeform_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`."""
    if not header or not header.startswith("sha256="):
        return False
    expected = base64.b64encode(_hmac(secret, body)).decode()
    return hmac.compare_digest(header.removeprefix("sha256="), expected)


def linkedin_valid(secret: str, body: bytes, header: str | None) -> bool:
    """LinkedIn: `X-LI-Signature` is the hex HMAC-SHA256, client secret as key, of the POST body
    prefixed by `hmacsha256=` (LinkedIn's webhook-validation guide). The header's own
    `hmacsha256=` prefix is optional: implementations differ."""
    if not header:
        return False
    signature = header.strip().removeprefix("hmacsha256=").lower()
    return hmac.compare_digest(signature, _hmac(secret, LINKEDIN_PREFIX + body).hex())


def linkedin_challenge_response(secret: str, challenge_code: str) -> str:
    """LinkedIn's endpoint validation: hex HMAC-SHA256 of the challenge code."""
    return _hmac(secret, challenge_code.encode()).hex()


def hubspot_v3_valid(
    secret: str, *, method: str, uri: str, body: bytes, timestamp: str | None, header: str | None, now_ms: int
) -> bool:
    """HubSpot v3: base64 HMAC-SHA256 of method + URI + body + timestamp; stale after 5 minutes."""
    if not header or not timestamp or not timestamp.isdigit():
        return False
    if abs(now_ms - int(timestamp)) > 5 * 60 * 1000:
        return False
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return hmac.compare_digest(header, base64.b64encode(_hmac(secret, message)).decode())


def shared_key_valid(expected: str, given: object) -> bool:
    """Google Ads lead forms: the key configured in the ad account travels in the body."""
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def webflow_valid(
    secret: str, body: bytes, *, timestamp: str | None, header: str | None, now_ms: int
) -> bool:
    """Webflow: `x-webflow-signature` is the hex HMAC-SHA256 of `<timestamp>:<body>`; a
    timestamp (ms) older than 5 minutes is a replay."""
    if not header or not timestamp or not timestamp.isdigit():
        return False
    if abs(now_ms - int(timestamp)) > 5 * 60 * 1000:
        return False
    return hmac.compare_digest(header, _hmac(secret, timestamp.encode() + b":" + body).hex())
