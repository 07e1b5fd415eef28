"""Ingest's error conditions, each with its HTTP status (mapped to RFC 9457 problem details)."""

from __future__ import annotations

from shared.problems import Problem


class IdempotencyKeyReused(Problem):
    """The Idempotency-Key was already used for a different request body."""

    status = 422
    title = "Idempotency key reused"
    slug = "idempotency-key-reused"


class UnsupportedMediaType(Problem):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class FormNotFound(Problem):
    status = 404
    title = "Form not found"
    slug = "form-not-found"


class LeadNotFound(Problem):
    status = 404
    title = "Lead not found"
    slug = "lead-not-found"


class SourceNotFound(Problem):
    status = 404
    title = "Source not found"
    slug = "source-not-found"


class SourceExists(Problem):
    status = 409
    title = "Source exists"
    slug = "source-exists"


class OriginNotAllowed(Problem):
    status = 403
    title = "Origin not allowed"
    slug = "origin-not-allowed"


class RateLimited(Problem):
    """Carries `retry_after_s`; the app's handler turns it into the `Retry-After` header."""

    status = 429
    title = "Too many requests"
    slug = "rate-limited"


class BodyTooLarge(Problem):
    status = 413
    title = "Content too large"
    slug = "body-too-large"


class SignatureInvalid(Problem):
    status = 401
    title = "Signature invalid"
    slug = "signature-invalid"


class ProviderNotConfigured(Problem):
    status = 404
    title = "Webhook provider not configured"
    slug = "provider-not-configured"


class WebhookPayloadInvalid(Problem):
    status = 422
    title = "Webhook payload invalid"
    slug = "webhook-payload-invalid"


class PlatformUnavailable(Problem):
    """The platform API the lead must be fetched from failed for now (downtime, throttling); 503
    tells the platform to deliver again. A permanent failure is answered 2xx instead."""

    status = 503
    title = "Platform API unavailable"
    slug = "platform-unavailable"


class QuarantinedDeliveryNotFound(Problem):
    status = 404
    title = "Quarantined delivery not found"
    slug = "quarantined-delivery-not-found"


class ReplayNotSupported(Problem):
    status = 409
    title = "This delivery cannot be replayed"
    slug = "replay-not-supported"
