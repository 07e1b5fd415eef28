"""Who a lead is: the match key behind "one person is one lead", and the company domain."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import LeadIngestedPayload

# Google ignores dots and anything after "+" in a Gmail mailbox, so these spell one inbox.
DOT_INSENSITIVE_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PLUS_TAG_DOMAINS = DOT_INSENSITIVE_DOMAINS | frozenset(
    {"outlook.com", "hotmail.com", "live.com", "icloud.com", "me.com", "fastmail.com", "proton.me"}
)

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com",
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com",
        "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me",
        "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "mail.ru", "yandex.ru", "yandex.com",
        "zoho.com", "fastmail.com", "tutanota.com", "hey.com", "qq.com", "163.com", "126.com",
        "orange.fr", "free.fr", "laposte.net", "t-online.de", "libero.it", "btinternet.com",
    }
)  # fmt: skip
DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "temp-mail.org",
        "yopmail.com", "trashmail.com", "sharklasers.com", "getnada.com", "dispostable.com",
        "throwawaymail.com", "maildrop.cc", "fakeinbox.com", "mintemail.com", "mohmal.com",
    }
)  # fmt: skip


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased: mailbox case-sensitivity is allowed by RFC 5321 but unused."""
    return email.strip().lower()


def match_key(email: str) -> str:
    """The key two addresses of one inbox share (`A.da+promo@GoogleMail.com` -> `ada@gmail.com`).

    Only used to find the lead; the address as typed is what is stored and sent on.
    """
    local, _, domain = normalize_email(email).rpartition("@")
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in DOT_INSENSITIVE_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def email_domain(email: str) -> str:
    return normalize_email(email).rpartition("@")[2]


def company_domain(email: str) -> str | None:
    """The company's domain from a work address; None for free-mail and disposable addresses."""
    domain = email_domain(email)
    if not domain or domain in FREE_MAIL_DOMAINS or domain in DISPOSABLE_DOMAINS:
        return None
    return domain


@dataclass(frozen=True)
class Identity:
    """Who a submission is about: the match key its lead is found by, and the contact points the
    lead row keeps (a lead needs an email, a phone or a platform's lead id; see `lead_identity`)."""

    match_key: str
    email: str | None
    phone: str | None
    domain: str | None


class NoContactPoint(ValueError):
    """A submission names no one: no email, no phone and no platform lead id."""


def lead_identity(payload: LeadIngestedPayload) -> Identity:
    """The email's match key when there is an email; else the phone (E.164) as `tel:<number>`;
    else the platform's own lead id as `<source>:<id>`. A phone-only submission whose number a
    lead already has joins that lead (the repository looks it up before the upsert)."""
    if payload.email:
        return Identity(match_key(payload.email), payload.email, payload.phone, company_domain(payload.email))
    if payload.phone:
        return Identity(phone_key(payload.phone), None, payload.phone, None)
    if payload.external_id:
        return Identity(f"{payload.source}:{payload.external_id}", None, None, None)
    raise NoContactPoint("a lead needs an email, a phone number or the platform's lead id")


def phone_key(phone: str) -> str:
    return f"tel:{phone}"
