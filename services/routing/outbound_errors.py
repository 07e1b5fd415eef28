"""Errors of outbound webhooks and the CRM write-back; each carries its HTTP status."""

from __future__ import annotations

from shared.problems import Conflict, NotFound


class WebhookNotFound(NotFound):
    title = "Webhook subscription not found"
    slug = "webhook-not-found"


class WebhookDeliveryNotFound(NotFound):
    title = "Webhook delivery not found"
    slug = "webhook-delivery-not-found"


class CrmSyncNotRetryable(Conflict):
    title = "No CRM sync to retry"
    slug = "crm-sync-not-retryable"
