"""The chart wires the services' settings: routing's outbound traffic (notifications, SMTP,
outbound webhooks, CRM write-back), OIDC claim mapping, and the egress each one needs.

Each switch is rendered on and off from the CI default values, so a rule that opens the
network only when a feature is on is checked both ways.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
import yaml

from services.feedback.settings import FeedbackSettings
from services.routing.settings import RoutingSettings
from services.scoring.settings import ScoringSettings
from shared.settings import ServiceSettings
from tests.platform.tooling import CHART, Rendered, render

DEFAULTS = str(CHART / "ci" / "default-values.yaml")
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def _render(helm: str, *sets: str) -> list[dict[str, Any]]:
    # Parsed anew on each call, so a test may change what it gets without touching another's.
    return [doc for doc in yaml.safe_load_all(_rendered(helm, sets)) if doc]


@functools.cache
def _rendered(helm: str, sets: tuple[str, ...]) -> str:
    """`helm template` once per set of values: several tests render the same ones (the defaults,
    the public hosts), and each render is a subprocess."""
    args = ["--values", DEFAULTS]
    for assignment in sets:
        args += ["--set", assignment]
    result = render(helm, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _env(documents: list[dict[str, Any]], component: str) -> dict[str, dict[str, Any]]:
    (deployment,) = [
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def _policies(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "NetworkPolicy"}


def _ports(policy: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in policy["egress"] for p in rule["ports"]}


def _secret_ref(var: dict[str, Any]) -> tuple[str, str]:
    assert "value" not in var, var["name"]
    ref = var["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


SMTP = (
    "routing.smtp.host=smtp.example.com",
    "routing.smtp.port=587",
    "routing.smtp.username=baton",
    "routing.smtp.from=Baton <baton@example.com>",
    "secrets.smtpPasswordKey=smtp-password",
)
CRM = (
    "routing.crm.provider=hubspot",
    "routing.crm.baseUrl=https://api.hubapi.com",
    "secrets.crmTokenKey=hubspot-token",
)


def test_routing_gets_smtp_with_the_password_from_the_secret(helm: str) -> None:
    env = _env(_render(helm, *SMTP), "routing")
    assert env["BATON_SMTP_HOST"]["value"] == "smtp.example.com"
    assert env["BATON_SMTP_PORT"]["value"] == "587"
    assert env["BATON_SMTP_STARTTLS"]["value"] == "true"
    assert env["BATON_SMTP_USERNAME"]["value"] == "baton"
    assert env["BATON_NOTIFICATION_EMAIL_FROM"]["value"] == "Baton <baton@example.com>"
    assert _secret_ref(env["BATON_SMTP_PASSWORD"]) == ("baton-secrets", "smtp-password")


def test_routing_gets_the_crm_with_the_token_from_the_secret(helm: str) -> None:
    env = _env(_render(helm, *CRM), "routing")
    assert env["BATON_CRM_PROVIDER"]["value"] == "hubspot"
    assert env["BATON_CRM_BASE_URL"]["value"] == "https://api.hubapi.com"
    assert env["BATON_CRM_SALESFORCE_API_VERSION"]["value"] == "v62.0"
    assert _secret_ref(env["BATON_CRM_TOKEN"]) == ("baton-secrets", "hubspot-token")


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("routing.crm.provider=hubspot", "secrets.crmTokenKey=t"), "routing.crm.baseUrl is required"),
        (
            ("routing.crm.provider=hubspot", "routing.crm.baseUrl=https://api.hubapi.com"),
            "secrets.crmTokenKey",
        ),
        (("routing.crm.provider=pipedrive",), "/routing/crm/provider"),
        (("routing.crm.baseUrl=http://api.hubapi.com",), "/routing/crm/baseUrl"),
        (("auth.oidc.roleMap.admins=superuser",), "/auth/oidc/roleMap/admins"),
    ],
)
def test_incomplete_or_wrong_outbound_values_fail_the_render(
    helm: str, sets: tuple[str, ...], message: str
) -> None:
    args = ["--values", DEFAULTS]
    for assignment in sets:
        args += ["--set", assignment]
    result = render(helm, *args)
    assert result.returncode != 0
    assert message in result.stderr


def test_routing_settings_accept_what_the_chart_renders(helm: str) -> None:
    """The rendered variables parse as routing's own settings (names, formats, the CRM check)."""
    documents = _render(
        helm,
        *SMTP,
        *CRM,
        "routing.webhooks.enabled=true",
        "routing.hotAgainScoreJump=12",
        "routing.publicUrl=https://reps.example.com",
    )
    env = _env(documents, "routing")
    plain = {name: var["value"] for name, var in env.items() if "value" in var}
    secrets = {name for name, var in env.items() if "valueFrom" in var}
    assert {"BATON_SMTP_PASSWORD", "BATON_CRM_TOKEN", "BATON_DATABASE_URL", "BATON_JWT_SECRET"} <= secrets
    fake_secrets = {
        "BATON_DATABASE_URL": "postgresql+asyncpg://baton@db/baton",
        "BATON_JWT_SECRET": "x" * 40,
        "BATON_SMTP_PASSWORD": "smtp-password-from-the-secret",
        "BATON_CRM_TOKEN": "pat-na1-from-the-secret",
    }
    settings = _settings(plain, fake_secrets)
    assert settings.smtp is not None
    assert settings.smtp.host == "smtp.example.com"
    assert settings.smtp.password == "smtp-password-from-the-secret"
    assert settings.crm_provider == "hubspot"
    assert settings.hot_again_score_jump == 12
    assert settings.public_url == "https://reps.example.com"
    assert settings.webhook_max_attempts == 8


def _settings(plain: dict[str, str], secrets: dict[str, str]) -> RoutingSettings:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**plain, **secrets}.items():
            patch.setenv(name, value)
        return RoutingSettings()  # read from the environment


def test_public_url_defaults_to_routings_ingress_host(helm: str) -> None:
    env = _env(_render(helm, "ingress.enabled=true", "ingress.hosts.routing=reps.example.com"), "routing")
    assert env["BATON_PUBLIC_URL"]["value"] == "https://reps.example.com"
    assert "BATON_PUBLIC_URL" not in _env(_render(helm), "routing")


FEEDBACK_HOST = ("ingress.enabled=true", "ingress.hosts.feedback=dashboard.example.com")


def test_the_signing_pages_dashboard_link_defaults_to_feedbacks_ingress_host(helm: str) -> None:
    env = _env(_render(helm, *FEEDBACK_HOST), "scoring")
    assert env["BATON_DASHBOARD_URL"]["value"] == "https://dashboard.example.com"
    own = _env(_render(helm, *FEEDBACK_HOST, "scoring.dashboardUrl=https://bi.example.com/baton"), "scoring")
    assert own["BATON_DASHBOARD_URL"]["value"] == "https://bi.example.com/baton"
    assert "BATON_DASHBOARD_URL" not in _env(_render(helm), "scoring")
    # Only the signing page links to the dashboard.
    for component in ("ingest", "routing", "feedback"):
        assert "BATON_DASHBOARD_URL" not in _env(_render(helm, *FEEDBACK_HOST), component)


def test_scoring_settings_read_the_evidence_inside_the_cluster_and_link_to_the_public_host(helm: str) -> None:
    """The evidence is read at feedback's Service, which scoring's egress policy allows; the public
    host is only the browser's link (scoring has no egress to the ingress controller)."""
    env = _env(_render(helm, *FEEDBACK_HOST), "scoring")
    plain = {name: var["value"] for name, var in env.items() if "value" in var}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in plain.items():
            patch.setenv(name, value)
        patch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://baton@db/baton")
        patch.setenv("BATON_JWT_SECRET", "x" * 40)
        settings = ScoringSettings()  # read from the environment
    assert settings.dashboard_url == "https://dashboard.example.com"
    assert settings.feedback_url == "http://baton-feedback:8004"


def test_scoring_dashboard_url_must_be_a_url(helm: str) -> None:
    result = render(helm, "--values", DEFAULTS, "--set", "scoring.dashboardUrl=dashboard.example.com")
    assert result.returncode != 0
    assert "/scoring/dashboardUrl" in result.stderr


PUBLIC_HOSTS = (
    "ingress.enabled=true",
    "ingress.hosts.ingest=leads.example.com",
    "ingress.hosts.scoring=agreement.example.com",
    "ingress.hosts.routing=reps.example.com",
)
LINKS = ("BATON_PUBLIC_INGEST_URL", "BATON_PUBLIC_SCORING_URL", "BATON_PUBLIC_ROUTING_URL")


def test_the_lookup_links_default_to_the_ingress_hosts_that_route_them(helm: str) -> None:
    env = _env(_render(helm, *PUBLIC_HOSTS), "feedback")
    assert env["BATON_PUBLIC_SCORING_URL"]["value"] == "https://agreement.example.com"
    assert env["BATON_PUBLIC_ROUTING_URL"]["value"] == "https://reps.example.com"
    # Ingest's host routes forms, webhooks and events only: a lead link there would not resolve.
    assert "BATON_PUBLIC_INGEST_URL" not in env
    # Feedback still reads scoring's drafts at its Service.
    assert env["BATON_SCORING_URL"]["value"] == "http://baton-scoring:8002"
    # No ingress, no public address: no links (never the in-cluster ones).
    assert not set(LINKS) & set(_env(_render(helm), "feedback"))
    # Only the dashboard links.
    for component in ("ingest", "scoring", "routing"):
        assert not set(LINKS) & set(_env(_render(helm, *PUBLIC_HOSTS), component))


def test_ingests_lead_link_needs_its_host_to_route_the_lead_api_or_an_own_address(helm: str) -> None:
    routed = _env(
        _render(helm, *PUBLIC_HOSTS, "ingress.paths.ingest={/v1/forms,/v1/webhooks,/v1/leads}"), "feedback"
    )
    assert routed["BATON_PUBLIC_INGEST_URL"]["value"] == "https://leads.example.com"
    own = _env(
        _render(
            helm,
            *PUBLIC_HOSTS,
            "feedback.publicUrls.ingest=https://ingest.internal.example.com",
            "feedback.publicUrls.routing=https://reps.example.com/baton",
        ),
        "feedback",
    )
    assert own["BATON_PUBLIC_INGEST_URL"]["value"] == "https://ingest.internal.example.com"
    assert own["BATON_PUBLIC_ROUTING_URL"]["value"] == "https://reps.example.com/baton"


def test_ingress_routes_the_lead_api_when_ingests_paths_name_it(helm: str) -> None:
    hosts = _ingress_paths(
        _render(helm, *PUBLIC_HOSTS, "ingress.paths.ingest={/v1/forms,/v1/webhooks,/v1/leads}")
    )
    for page in ("/v1/leads", "/v1/leads/0b7c8a52-1c1e-4d5e-9a43-2b6f4f1f9d10"):
        assert _routed(hosts["leads.example.com"], page), page
    default = _ingress_paths(_render(helm, *PUBLIC_HOSTS))
    assert not _routed(default["leads.example.com"], "/v1/leads")


def test_feedback_settings_read_the_rendered_links(helm: str) -> None:
    env = _env(_render(helm, *PUBLIC_HOSTS), "feedback")
    plain = {name: var["value"] for name, var in env.items() if "value" in var}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in plain.items():
            patch.setenv(name, value)
        patch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://baton@db/baton")
        patch.setenv("BATON_JWT_SECRET", "x" * 40)
        settings = FeedbackSettings()  # read from the environment
    assert settings.scoring_url == "http://baton-scoring:8002"
    assert settings.public_scoring_url == "https://agreement.example.com"
    assert settings.public_routing_url == "https://reps.example.com"
    assert settings.public_ingest_url is None


def test_feedback_public_urls_must_be_urls(helm: str) -> None:
    result = render(helm, "--values", DEFAULTS, "--set", "feedback.publicUrls.routing=reps.example.com")
    assert result.returncode != 0
    assert "/feedback/publicUrls/routing" in result.stderr


def test_outbound_settings_reach_routing_only(helm: str) -> None:
    documents = _render(helm, *SMTP, *CRM)
    for component in ("ingest", "scoring", "feedback"):
        env = _env(documents, component)
        leaked = [n for n in env if n.startswith(("BATON_SMTP", "BATON_CRM", "BATON_WEBHOOK", "BATON_HOT"))]
        assert not leaked, component
    assert _env(documents, "routing")["BATON_HOT_AGAIN_SCORE_JUMP"]["value"] == "20"


def test_routing_has_no_outside_egress_when_nothing_goes_out(helm: str) -> None:
    documents = _render(helm)
    assert "baton-routing-egress-outbound" not in _policies(documents)
    env = _env(documents, "routing")
    assert not [n for n in env if n.startswith(("BATON_SMTP", "BATON_CRM", "BATON_NOTIFICATION"))]


@pytest.mark.parametrize(
    "switch",
    [
        ("secrets.notificationWebhookUrlKey=slack-webhook-url",),
        ("routing.notifications.slack=true",),
        ("routing.webhooks.enabled=true",),
        CRM,
    ],
    ids=["team-webhook", "rep-slack", "webhooks", "crm"],
)
def test_each_https_feature_opens_routings_https_egress_only(helm: str, switch: tuple[str, ...]) -> None:
    policy = _policies(_render(helm, *switch))["baton-routing-egress-outbound"]
    # Routing's senders do the sending, in pods of their own unless routing.senders.enabled=false.
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "routing-senders"
    inline = _policies(_render(helm, *switch, "routing.senders.enabled=false"))[
        "baton-routing-egress-outbound"
    ]
    assert inline["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "routing"
    assert policy["policyTypes"] == ["Egress"]
    (rule,) = policy["egress"]
    (peer,) = rule["to"]
    assert peer["ipBlock"] == {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}
    assert _ports(policy) == {443}


def test_smtp_opens_the_submission_ports(helm: str) -> None:
    assert _ports(_policies(_render(helm, *SMTP))["baton-routing-egress-outbound"]) == {443, 587, 465}
    only_587 = _render(helm, *SMTP, "networkPolicy.webhookEgress.smtpPorts={587}")
    assert _ports(_policies(only_587)["baton-routing-egress-outbound"]) == {443, 587}
    # The port routing actually uses is always open, even when not listed.
    own_port = _render(helm, *SMTP, "routing.smtp.port=2525", "networkPolicy.webhookEgress.smtpPorts={587}")
    assert _ports(_policies(own_port)["baton-routing-egress-outbound"]) == {443, 587, 2525}


OIDC = ("auth.mode=oidc", "auth.oidc.issuer=https://login.example.com/")


def test_oidc_claim_mapping_reaches_every_service_and_jwks_url_is_optional(helm: str) -> None:
    documents = _render(
        helm,
        *OIDC,
        "auth.oidc.roleClaim=realm_access.roles",
        "auth.oidc.roleMap.sales-managers=manager",
        "auth.oidc.roleMap.sales-reps=rep",
        "auth.oidc.repIdClaim=baton_rep",
        "auth.oidc.emailClaim=preferred_username",
        "auth.oidc.leewaySeconds=30",
        "auth.oidc.jwksMinRefreshIntervalSeconds=45",
    )
    for component in ("ingest", "scoring", "routing", "feedback"):
        env = _env(documents, component)
        assert "BATON_OIDC_JWKS_URL" not in env, component  # discovered from the issuer
        assert "BATON_JWT_SECRET" not in env, component
        assert env["BATON_OIDC_ISSUER"]["value"] == "https://login.example.com/"
        assert env["BATON_OIDC_ROLE_CLAIM"]["value"] == "realm_access.roles"
        assert json.loads(env["BATON_OIDC_ROLE_MAP"]["value"]) == {
            "sales-managers": "manager",
            "sales-reps": "rep",
        }
        assert env["BATON_OIDC_REP_ID_CLAIM"]["value"] == "baton_rep"
        assert env["BATON_OIDC_EMAIL_CLAIM"]["value"] == "preferred_username"
        assert env["BATON_OIDC_LEEWAY_S"]["value"] == "30"
        assert env["BATON_OIDC_JWKS_MIN_REFRESH_INTERVAL_S"]["value"] == "45"
    plain = {n: v["value"] for n, v in _env(documents, "ingest").items() if "value" in v}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in plain.items():
            patch.setenv(name, value)
        patch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://baton@db/baton")
        settings = ServiceSettings()  # read from the environment
    assert settings.oidc_jwks_url is None
    assert settings.oidc_role_map == {"sales-managers": "manager", "sales-reps": "rep"}
    assert settings.oidc_leeway_s == 30


def test_oidc_opens_https_egress_for_every_service_and_hs256_does_not(helm: str) -> None:
    policy = _policies(_render(helm, *OIDC))["baton-egress-oidc"]
    (expression,) = policy["podSelector"]["matchExpressions"]
    assert expression["key"] == "app.kubernetes.io/component"
    assert sorted(expression["values"]) == ["feedback", "ingest", "routing", "scoring"]
    (rule,) = policy["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}]
    assert _ports(policy) == {443}
    assert "baton-egress-oidc" not in _policies(_render(helm))


def test_every_values_file_renders_its_oidc_and_outbound_egress(rendered: Rendered) -> None:
    policies = {d["metadata"]["name"] for d in rendered.of_kind("NetworkPolicy")}
    if rendered.values_file == "ci/default-values.yaml":
        assert not policies & {"baton-egress-oidc", "baton-routing-egress-outbound"}
    else:
        assert {"baton-egress-oidc", "baton-routing-egress-outbound"} <= policies


def _ingress_paths(documents: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    by_host: dict[str, list[tuple[str, str]]] = {}
    for ingress in (d for d in documents if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            by_host[rule["host"]] = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
    return by_host


def _routed(paths: list[tuple[str, str]], request_path: str) -> bool:
    """Kubernetes Ingress matching: Exact is the whole path, Prefix matches whole segments."""
    for path, kind in paths:
        if kind == "Exact" and request_path == path:
            return True
        if kind == "Prefix" and (request_path == path or request_path.startswith(path.rstrip("/") + "/")):
            return True
    return False


def test_ingress_passes_the_form_preflight_and_routings_inbox(helm: str) -> None:
    hosts = _ingress_paths(
        _render(
            helm,
            "ingress.enabled=true",
            "ingress.hosts.ingest=leads.example.com",
            "ingress.hosts.routing=reps.example.com",
        )
    )
    # The browser's OPTIONS preflight uses the submission's own path (an Ingress never matches
    # on the method), so the submission path being routed is what lets the preflight through.
    assert _routed(hosts["leads.example.com"], "/v1/forms/contact-us/submissions")
    # The embed snippet is under the same prefix but needs a marketing token (services/ingest/api_embed.py).
    for page in ("/inbox", "/static/inbox.js", "/static/inbox.css", "/v1/me/leads"):
        assert _routed(hosts["reps.example.com"], page), page
    for operations in ("/metrics", "/docs", "/openapi.json", "/readyz", "/healthz"):
        assert not _routed(hosts["reps.example.com"], operations), operations
        assert not _routed(hosts["leads.example.com"], operations), operations


def test_ingress_serves_the_signing_page_its_assets_and_scorings_api(helm: str) -> None:
    hosts = _ingress_paths(
        _render(helm, "ingress.enabled=true", "ingress.hosts.scoring=agreement.example.com")
    )
    paths = hosts["agreement.example.com"]
    # What the page loads and calls (services/scoring/static/agreement.*).
    for page in (
        "/agreement",
        "/static/agreement.js",
        "/static/agreement.css",
        "/v1/rubrics",
        "/v1/rubrics/2027.plan/approvals",
        "/v1/rubrics/2027.plan/activate",
        "/v1/agreement/evidence",
    ):
        assert _routed(paths, page), page
    for operations in ("/metrics", "/docs", "/openapi.json", "/readyz", "/healthz", "/"):
        assert not _routed(paths, operations), operations


def test_scoring_paths_outside_its_pages_are_refused_by_the_values_schema(helm: str) -> None:
    result = render(helm, "--values", DEFAULTS, "--set", "ingress.paths.scoring={/agreement,/metrics}")
    assert result.returncode != 0
    assert "/ingress/paths/scoring/1" in result.stderr


def test_routing_paths_outside_its_pages_are_refused_by_the_values_schema(helm: str) -> None:
    result = render(helm, "--values", DEFAULTS, "--set", "ingress.paths.routing={/v1,/metrics}")
    assert result.returncode != 0
    assert "/ingress/paths/routing/1" in result.stderr


@pytest.mark.parametrize(
    ("sets", "store"),
    [
        ((), "postgres"),  # the defaults: hpa up to 6 replicas
        (("services.ingest.autoscaling.kind=none", "services.ingest.replicas=1"), "memory"),
        (("services.ingest.autoscaling.kind=none", "services.ingest.replicas=3"), "postgres"),
        (
            (
                "services.ingest.autoscaling.kind=hpa",
                "services.ingest.replicas=1",
                "services.ingest.autoscaling.minReplicas=1",
                "services.ingest.autoscaling.maxReplicas=1",
            ),
            "memory",
        ),
        (
            (
                "services.ingest.autoscaling.kind=none",
                "services.ingest.replicas=1",
                "formRateLimit.store=postgres",
            ),
            "postgres",
        ),
        (("formRateLimit.store=memory",), "memory"),
    ],
)
def test_the_form_rate_limit_is_shared_whenever_ingest_may_run_more_than_one_replica(
    helm: str, sets: tuple[str, ...], store: str
) -> None:
    documents = _render(helm, *sets)
    assert _env(documents, "ingest")["BATON_FORM_RATE_LIMIT_STORE"]["value"] == store
    for component in ("scoring", "routing", "feedback"):
        assert "BATON_FORM_RATE_LIMIT_STORE" not in _env(documents, component)
