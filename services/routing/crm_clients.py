"""Connectors that write a lead's owner into a CRM: find the record by email or phone, create it
when missing, then set the owner. Each speaks its CRM's documented REST API:

- HubSpot CRM v3: `POST /crm/v3/objects/contacts/search`, `POST /crm/v3/objects/contacts`,
  `PATCH /crm/v3/objects/contacts/{id}` with the `hubspot_owner_id` property.
- Salesforce REST: SOQL `GET /services/data/vXX.X/query`, `POST .../sobjects/Lead`,
  `PATCH .../sobjects/Lead/{id}` with `OwnerId`.

A failed call raises `CrmCallFailed` with the CRM's own error code and message, the record id if
one was found before it failed (so the retry does not search or create again), and the CRM's
Retry-After."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import httpx


class CrmCallFailed(Exception):
    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.record_id: str | None = None


class CrmConnector(Protocol):
    name: str

    async def set_owner(self, *, lead: Mapping[str, Any], record_id: str | None, owner_id: str) -> str:
        """Make `owner_id` the owner of the lead's record (found or created when `record_id` is
        None); returns the record id."""
        ...


def _error_text(response: httpx.Response) -> str:
    """The CRM's own words: HubSpot answers one object (`category` or `errorType`, `message`),
    Salesforce an array of `{"message", "errorCode"}`."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return f"HTTP {response.status_code} {first.get('errorCode', '')}: {first.get('message', '')}"
    if isinstance(body, dict):
        code = body.get("category") or body.get("errorType") or ""
        return f"HTTP {response.status_code} {code}: {body.get('message', '')}"
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


async def _call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise CrmCallFailed(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise CrmCallFailed(
            _error_text(response), status=response.status_code, retry_after_s=_retry_after(response)
        )
    return response


class _Connector:
    name = "crm"

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, token: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.headers = {"authorization": f"Bearer {token}", "accept": "application/json"}

    async def set_owner(self, *, lead: Mapping[str, Any], record_id: str | None, owner_id: str) -> str:
        try:
            if record_id is None:
                record_id = await self.find(lead) or await self.create(lead)
            await self.assign(record_id, owner_id)
        except CrmCallFailed as exc:
            exc.record_id = record_id
            raise
        return record_id

    async def find(self, lead: Mapping[str, Any]) -> str | None:
        raise NotImplementedError

    async def create(self, lead: Mapping[str, Any]) -> str:
        raise NotImplementedError

    async def assign(self, record_id: str, owner_id: str) -> None:
        raise NotImplementedError


class HubSpotConnector(_Connector):
    """HubSpot contacts; the owner is a HubSpot owner id (Settings > Users, or the owners API)."""

    name = "hubspot"

    async def find(self, lead: Mapping[str, Any]) -> str | None:
        # Filter groups are ORed: the email, or else the phone, identifies the contact.
        groups = [
            {"filters": [{"propertyName": prop, "operator": "EQ", "value": lead[key]}]}
            for prop, key in (("email", "email"), ("phone", "phone"))
            if lead.get(key)
        ]
        if not groups:
            return None
        response = await _call(
            self.client,
            "POST",
            f"{self.base_url}/crm/v3/objects/contacts/search",
            headers=self.headers,
            json={"filterGroups": groups, "properties": ["email", "phone", "hubspot_owner_id"], "limit": 1},
        )
        results = response.json().get("results") or []
        return str(results[0]["id"]) if results else None

    async def create(self, lead: Mapping[str, Any]) -> str:
        names = {"email": "email", "first_name": "firstname", "last_name": "lastname", "company": "company"}
        names |= {"phone": "phone", "job_title": "jobtitle", "country": "country"}
        properties = {prop: str(lead[key]) for key, prop in names.items() if lead.get(key)}
        try:
            response = await _call(
                self.client,
                "POST",
                f"{self.base_url}/crm/v3/objects/contacts",
                headers=self.headers,
                json={"properties": properties},
            )
        except CrmCallFailed as exc:
            # Search is eventually consistent: a contact created moments ago may not be found yet,
            # and HubSpot's 409 names it ("Contact already exists. Existing ID: 123").
            existing = re.search(r"Existing ID: (\d+)", str(exc)) if exc.status == 409 else None
            if existing is None:
                raise
            return existing.group(1)
        return str(response.json()["id"])

    async def assign(self, record_id: str, owner_id: str) -> None:
        await _call(
            self.client,
            "PATCH",
            f"{self.base_url}/crm/v3/objects/contacts/{record_id}",
            headers=self.headers,
            json={"properties": {"hubspot_owner_id": owner_id}},
        )


def soql_literal(value: str) -> str:
    """A SOQL string literal: backslashes and single quotes escaped, as SOQL requires."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceConnector(_Connector):
    """Salesforce Leads; the owner is a User id (005...)."""

    name = "salesforce"

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, token: str, api_version: str) -> None:
        super().__init__(client, base_url=base_url, token=token)
        self.data_url = f"{self.base_url}/services/data/{api_version}"

    async def find(self, lead: Mapping[str, Any]) -> str | None:
        clauses = [
            f"{field} = {soql_literal(str(lead[key]))}"
            for field, key in (("Email", "email"), ("Phone", "phone"))
            if lead.get(key)
        ]
        if not clauses:
            return None
        soql = f"SELECT Id FROM Lead WHERE {' OR '.join(clauses)} ORDER BY CreatedDate LIMIT 1"
        response = await _call(
            self.client, "GET", f"{self.data_url}/query", headers=self.headers, params={"q": soql}
        )
        records = response.json().get("records") or []
        return str(records[0]["Id"]) if records else None

    async def create(self, lead: Mapping[str, Any]) -> str:
        email = str(lead.get("email") or "")
        # LastName and Company are required on a Lead; web-to-lead fills a missing company the same way.
        fields = {
            "LastName": lead.get("last_name") or email.split("@")[0] or "[not provided]",
            "Company": lead.get("company") or "[not provided]",
        }
        optional = {"FirstName": "first_name", "Email": "email", "Phone": "phone", "Title": "job_title"}
        fields |= {field: str(lead[key]) for field, key in optional.items() if lead.get(key)}
        response = await _call(
            self.client, "POST", f"{self.data_url}/sobjects/Lead", headers=self.headers, json=fields
        )
        return str(response.json()["id"])

    async def assign(self, record_id: str, owner_id: str) -> None:
        await _call(
            self.client,
            "PATCH",
            f"{self.data_url}/sobjects/Lead/{record_id}",
            headers=self.headers,
            json={"OwnerId": owner_id},
        )
