"""The chart read the way a real cluster reads it (issue 21): Strimzi objects where the operators
watch, SASL over TLS with the cluster CA, KEDA's own login, a topics Job without Strimzi, a
connection budget under PostgreSQL's max_connections, a grace period derived from the app's
shutdown budget, only public paths behind the Ingress, per-service values, and the alerts.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.contracts.topics import TOPOLOGY, consumer_groups
from tests.platform.tooling import CHART, NAMESPACE, Rendered, render

STRIMZI_NAMESPACE = "kafka"
OPERATIONS_PATHS = ("/metrics", "/docs", "/openapi.json", "/readyz", "/healthz", "/redoc")
ROLLOUT_SURGE = 0.25
MIGRATION_CONNECTIONS = 1


def _values(rendered: Rendered) -> dict[str, Any]:
    """The chart's values.yaml with the rendered values file laid over it (as helm merges)."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in over.items():
            both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
            merged[key] = merge(base[key], value) if both_maps else value
        return merged

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return merge(defaults, yaml.safe_load((CHART / rendered.values_file).read_text()))


def _component(doc: dict[str, Any]) -> str:
    component: str = doc["metadata"]["labels"]["app.kubernetes.io/component"]
    return component


def _containers(rendered: Rendered, kind: str = "Deployment") -> dict[str, dict[str, Any]]:
    return {_component(d): d["spec"]["template"]["spec"]["containers"][0] for d in rendered.of_kind(kind)}


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _render_default(helm: str, *sets: str) -> Any:
    args = ["--values", str(CHART / "ci" / "default-values.yaml")]
    for assignment in sets:
        args += ["--set", assignment]
    return render(helm, *args)


class TestStrimzi:
    def test_kafka_topics_and_users_land_in_the_strimzi_namespace(self, rendered: Rendered) -> None:
        strimzi = rendered.of_kind("KafkaTopic") + rendered.of_kind("KafkaUser")
        assert strimzi
        assert {d["metadata"]["namespace"] for d in strimzi} == {STRIMZI_NAMESPACE}
        for doc in rendered.documents:
            if doc["kind"] not in {"KafkaTopic", "KafkaUser"}:
                assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]

    def test_sasl_goes_over_tls_to_the_tls_listener_with_the_cluster_ca_mounted(
        self, rendered: Rendered
    ) -> None:
        values = _values(rendered)
        for component, container in _containers(rendered).items():
            env = _env(container)
            bootstrap = env["BATON_KAFKA_BOOTSTRAP_SERVERS"]
            if not values["kafka"]["sasl"]["enabled"]:
                assert bootstrap == "baton-kafka-kafka-bootstrap.kafka.svc:9092", component
                assert "BATON_KAFKA_SSL_CAFILE" not in env
                continue
            # Strimzi's TLS listener; 9092 is its plain one.
            assert bootstrap == "baton-kafka-kafka-bootstrap.kafka.svc:9093", component
            assert env["BATON_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
            cafile = Path(env["BATON_KAFKA_SSL_CAFILE"])
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(cafile.parent)]
            pod = next(
                d["spec"]["template"]["spec"]
                for d in rendered.of_kind("Deployment")
                if _component(d) == component
            )
            (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
            assert (
                volume["secret"]["secretName"] == values["kafka"]["caSecret"]["name"]
                or "baton-kafka-cluster-ca-cert"
            )
            assert {i["path"] for i in volume["secret"]["items"]} == {cafile.name}

    def test_users_secrets_carry_the_metadata_a_replicator_needs(self, rendered: Rendered) -> None:
        wanted = _values(rendered)["kafka"]["strimzi"]["userSecretMetadata"]["annotations"]
        for user in rendered.of_kind("KafkaUser"):
            template = user["spec"].get("template", {}).get("secret", {}).get("metadata", {})
            assert template.get("annotations", {}) == wanted

    def test_keda_logs_in_as_its_own_user_that_can_only_describe(self, rendered: Rendered) -> None:
        auths = rendered.of_kind("TriggerAuthentication")
        if rendered.values_file != "values-production.yaml":
            assert not auths
            return
        (auth,) = auths
        name = auth["metadata"]["name"]
        (keda_user,) = [u for u in rendered.of_kind("KafkaUser") if _component(u) == "keda"]
        assert keda_user["metadata"]["name"] == name
        for acl in keda_user["spec"]["authorization"]["acls"]:
            assert acl["operations"] == ["Describe"]
        passwords = [r for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "password"]
        assert passwords == [{"parameter": "password", "name": name, "key": "password"}]
        assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"password", "ca"}
        (config,) = rendered.of_kind("ConfigMap")
        assert config["data"] == {"username": name, "sasl": "scram_sha512", "tls": "enable"}
        for scaled in rendered.of_kind("ScaledObject"):
            for trigger in scaled["spec"]["triggers"]:
                if trigger["type"] == "kafka":
                    assert trigger["authenticationRef"] == {"name": name, "kind": "TriggerAuthentication"}
                    assert trigger["metadata"]["bootstrapServers"].endswith(":9093")

    def test_without_strimzi_a_topics_job_creates_the_topics_first(self, helm: str) -> None:
        result = _render_default(helm, "kafka.strimzi.enabled=false")
        assert result.returncode == 0, result.stderr
        documents = [d for d in yaml.safe_load_all(result.stdout) if d]
        assert not [d for d in documents if d["kind"] in {"KafkaTopic", "KafkaUser"}]
        jobs = {_component(d): d for d in documents if d["kind"] == "Job"}
        topics = jobs["topics"]
        (container,) = topics["spec"]["template"]["spec"]["containers"]
        assert container["args"][:3] == ["topics", "--partitions", "6"]
        assert topics["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        # After the migrations' hook weight, before any service starts.
        assert int(topics["metadata"]["annotations"]["helm.sh/hook-weight"]) > int(
            jobs["migrate"]["metadata"]["annotations"]["helm.sh/hook-weight"]
        )


class TestDatabase:
    def test_the_connection_budget_fits_under_max_connections(self, rendered: Rendered) -> None:
        values = _values(rendered)
        autoscaled = {
            **{
                h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
                for h in rendered.of_kind("HorizontalPodAutoscaler")
            },
            **{
                s["spec"]["scaleTargetRef"]["name"]: s["spec"]["maxReplicaCount"]
                for s in rendered.of_kind("ScaledObject")
            },
        }
        budget = MIGRATION_CONNECTIONS
        for deployment in rendered.of_kind("Deployment"):
            name = deployment["metadata"]["name"]
            most = autoscaled.get(name, deployment["spec"].get("replicas"))
            env = _env(deployment["spec"]["template"]["spec"]["containers"][0])
            per_process = int(env["BATON_DATABASE_POOL_SIZE"]) + int(env["BATON_DATABASE_MAX_OVERFLOW"])
            # A rolling update runs up to 25 % more pods than the autoscaler's ceiling.
            budget += (most + math.ceil(most * ROLLOUT_SURGE)) * per_process
        database = values["database"]
        assert budget <= database["maxConnections"] - database["reservedConnections"]

    def test_a_budget_over_max_connections_fails_the_render(self, helm: str) -> None:
        result = _render_default(helm, "database.poolSize=20")
        assert result.returncode != 0
        assert "connection budget" in result.stderr

    def test_pgbouncer_mode_reaches_every_service(self, rendered: Rendered) -> None:
        expected = str(_values(rendered)["database"]["pgbouncer"]).lower()
        for container in _containers(rendered).values():
            assert _env(container)["BATON_DATABASE_PGBOUNCER"] == expected


class TestShutdown:
    def test_the_grace_period_covers_prestop_the_app_budget_and_a_margin(self, rendered: Rendered) -> None:
        shutdown = _values(rendered)["shutdown"]
        for deployment in rendered.of_kind("Deployment"):
            pod = deployment["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            assert _env(container)["BATON_SHUTDOWN_BUDGET_SECONDS"] == str(shutdown["budgetSeconds"])
            assert container["lifecycle"]["preStop"]["exec"]["command"] == [
                "sleep",
                str(shutdown["preStopSeconds"]),
            ]
            assert pod["terminationGracePeriodSeconds"] == (
                shutdown["preStopSeconds"] + shutdown["budgetSeconds"] + shutdown["marginSeconds"]
            )


class TestPublicSurface:
    def test_the_ingress_exposes_no_operations_path(self, rendered: Rendered) -> None:
        for ingress in rendered.of_kind("Ingress"):
            hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
            assert len(hosts) == len(set(hosts)), "each service behind its own host"
            for rule in ingress["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    if path["path"] == "/":
                        assert path["pathType"] == "Exact"
                    for internal in OPERATIONS_PATHS:
                        assert path["path"] != internal
                        if path["pathType"] == "Prefix":
                            assert not internal.startswith(path["path"].rstrip("/") + "/"), path
                    if path["backend"]["service"]["name"] == "baton-ingest":
                        assert re.match(r"^/v1/(forms|webhooks|events)", path["path"]), path

    @pytest.mark.parametrize("path", ["/metrics", "/", "/docs", "/readyz"])
    def test_the_values_schema_refuses_an_operations_path_for_ingest(self, helm: str, path: str) -> None:
        result = _render_default(
            helm, "ingress.enabled=true", "ingress.hosts.ingest=a.example", f"ingress.paths.ingest={{{path}}}"
        )
        assert result.returncode != 0

    def test_trusted_proxies_are_an_explicit_list(self, rendered: Rendered, helm: str) -> None:
        for container in _containers(rendered).values():
            assert "*" not in _env(container)["BATON_FORWARDED_ALLOW_IPS"]
        assert _render_default(helm, "ingress.trustedProxies={*}").returncode != 0


def _senders_values(values: dict[str, Any]) -> dict[str, Any]:
    """What routing's senders' pods follow: routing's values, their own resources, the shared spread."""
    routing = values["services"]["routing"]
    return {
        **routing,
        "resources": values["routing"]["senders"]["resources"],
        "topologySpreadConstraints": [],
    }


class TestPerServiceValues:
    def test_provider_secrets_reach_ingest_only(self, rendered: Rendered) -> None:
        if rendered.values_file == "ci/default-values.yaml":
            return
        containers = {**_containers(rendered), "migrate": _containers(rendered, "Job")["migrate"]}
        for component, container in containers.items():
            has_secret = "BATON_FACEBOOK_APP_SECRET" in _env(container)
            assert has_secret == (component == "ingest"), component

    def test_resources_priority_affinity_and_zone_spread_follow_the_values(self, rendered: Rendered) -> None:
        values = _values(rendered)
        for deployment in rendered.of_kind("Deployment"):
            component = _component(deployment)
            own = values["services"].get(component) or _senders_values(values)
            pod = deployment["spec"]["template"]["spec"]
            assert pod["containers"][0]["resources"] == (own.get("resources") or values["resources"])
            assert pod.get("priorityClassName", "") == (
                own.get("priorityClassName") or values["priorityClassName"]
            )
            assert pod.get("affinity", {}) == (own.get("affinity") or values["affinity"])
            spread = pod.get("topologySpreadConstraints", [])
            if own.get("topologySpreadConstraints"):
                assert spread == own["topologySpreadConstraints"]
                continue
            zone = [c for c in spread if c["topologyKey"] == "topology.kubernetes.io/zone"]
            assert len(zone) == int(values["topologySpread"]["zone"]["enabled"])
            for constraint in zone:
                assert (
                    constraint["whenUnsatisfiable"] == values["topologySpread"]["zone"]["whenUnsatisfiable"]
                )


class TestMonitoring:
    def test_service_down_fires_from_up_and_absent_for_every_service(self, rendered: Rendered) -> None:
        (rules,) = rendered.of_kind("PrometheusRule")
        alerts = {rule["alert"]: rule for group in rules["spec"]["groups"] for rule in group["rules"]}
        expr = alerts["BatonServiceDown"]["expr"]
        assert "up{" in expr
        for deployment in rendered.of_kind("Deployment"):
            assert f'absent(up{{namespace="{NAMESPACE}",service="{deployment["metadata"]["name"]}"}})' in expr

    def test_broker_side_lag_covers_every_consumer_group(self, rendered: Rendered) -> None:
        (rules,) = rendered.of_kind("PrometheusRule")
        alerts = {rule["alert"]: rule for group in rules["spec"]["groups"] for rule in group["rules"]}
        expr = alerts["BatonBrokerLagGrowing"]["expr"]
        (groups,) = re.findall(r'kafka_consumergroup_lag\{consumergroup=~"([^"]+)"\}', expr)
        assert set(groups.split("|")) == {g for s in TOPOLOGY for g in consumer_groups(s)}

    def test_monitors_carry_the_labels_prometheus_selects_on(self, rendered: Rendered) -> None:
        values = _values(rendered)
        (monitor,) = rendered.of_kind("ServiceMonitor")
        (rule,) = rendered.of_kind("PrometheusRule")
        assert values["serviceMonitor"]["labels"].items() <= monitor["metadata"]["labels"].items()
        assert values["prometheusRule"]["labels"].items() <= rule["metadata"]["labels"].items()

    def test_the_otlp_exporter_speaks_http_on_its_port(self, rendered: Rendered) -> None:
        for container in _containers(rendered).values():
            env = _env(container)
            if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
                assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")
                assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
