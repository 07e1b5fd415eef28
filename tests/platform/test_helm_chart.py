"""The Helm chart: lints, renders, and every rendered object passes a strict schema.

Built-in kinds go through kubernetes-validate --strict; KEDA, Strimzi and Prometheus Operator
kinds, which kubernetes-validate waves through with a warning, go through our own schemas.
"""

from __future__ import annotations

import copy
import importlib
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.contracts.topics import (
    EVENT_TOPICS,
    LEAD_KEY_CHANGED,
    TOPOLOGY,
    consumer_groups,
    dead_letter_topic,
)
from tests.platform.tooling import CHART, VALUES_FILES, Rendered, load_schema, render, run

KUBERNETES_VERSION = "1.33.0"
CUSTOM_KINDS = {
    "KafkaTopic": "kafkatopic",
    "KafkaUser": "kafkauser",
    "ScaledObject": "scaledobject",
    "ServiceMonitor": "servicemonitor",
    "PrometheusRule": "prometheusrule",
    "TriggerAuthentication": "triggerauthentication",
}
# Every consumer group the code reads in (routing's followup lane too), and which topics it reads.
GROUPS = {service: consumer_groups(service) for service in TOPOLOGY}
CONSUMER_GROUPS = tuple(group for groups in GROUPS.values() for group in groups)
PARTITIONS = 6
PRODUCTION_PARTITIONS = 12
# Routing's senders (notifier, webhook sender, CRM sync) in a Deployment of their own.
SENDERS = "routing-senders"
# Ingest issues the leads' sealing keys, and every consumer reads them (docs/erasure.md).
ACCESS = {
    service: {
        "reads": set(flow.consumes) | ({LEAD_KEY_CHANGED} if flow.consumes else set()),
        "writes": set(flow.produces)
        | {dead_letter_topic(group) for group in GROUPS[service]}
        | ({LEAD_KEY_CHANGED} if service == "ingest" else set()),
    }
    for service, flow in TOPOLOGY.items()
}


def _name(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _validate_builtin(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _validate_custom(doc: dict[str, Any]) -> None:
    schema = load_schema(CUSTOM_KINDS[doc["kind"]])
    jsonschema.Draft202012Validator(schema).validate(doc)


def _pod_specs(rendered: Rendered) -> list[tuple[str, dict[str, Any]]]:
    specs = [(_name(d), d["spec"]["template"]["spec"]) for d in rendered.of_kind("Deployment")]
    specs += [(_name(d), d["spec"]["template"]["spec"]) for d in rendered.of_kind("Job")]
    return specs


def _component(doc: dict[str, Any]) -> str:
    component: str = doc["metadata"]["labels"]["app.kubernetes.io/component"]
    return component


def test_chart_lints_strictly(helm: str) -> None:
    for values in VALUES_FILES:
        result = run([helm, "lint", "--strict", str(CHART), "--values", str(CHART / values)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_object_passes_a_strict_schema(rendered: Rendered) -> None:
    failures = []
    for doc in rendered.documents:
        try:
            if doc["kind"] in CUSTOM_KINDS:
                _validate_custom(doc)
            else:
                _validate_builtin(doc)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            failures.append(f"{_name(doc)}: {exc}")
    assert not failures, "\n".join(failures)


def test_unknown_kinds_are_never_passed_through(rendered: Rendered) -> None:
    for doc in rendered.documents:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        # SchemaNotFoundError here would mean kubernetes-validate only warned about the kind.
        _validate_builtin(doc)


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        (("spec", "template", "spec", "containers", 0), "readinesProbe"),
        (("spec", "template", "spec"), "securityContex"),
    ],
)
def test_a_typo_in_a_deployment_fails_validation(
    rendered: Rendered, path: tuple[Any, ...], typo: str
) -> None:
    doc = copy.deepcopy(rendered.of_kind("Deployment")[0])
    node: Any = doc
    for key in path:
        node = node[key]
    node[typo] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_builtin(doc)


@pytest.mark.parametrize(
    ("kind", "field"), [("KafkaTopic", "partition"), ("KafkaUser", "acl"), ("ScaledObject", "maxReplicas")]
)
def test_a_typo_in_a_custom_resource_fails_validation(rendered: Rendered, kind: str, field: str) -> None:
    doc = copy.deepcopy(rendered.of_kind(kind)[0])
    doc["spec"][field] = 1
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(doc)


def test_a_typo_in_values_is_rejected_by_the_values_schema(helm: str) -> None:
    result = render(
        helm, "--values", str(CHART / "ci" / "default-values.yaml"), "--set", "services.ingest.replica=3"
    )
    assert result.returncode != 0
    assert "additional properties 'replica' not allowed" in result.stderr


def test_rendering_without_an_existing_secret_fails(helm: str) -> None:
    result = render(helm)
    assert result.returncode != 0
    assert "secrets.existingSecret must name a Secret" in result.stderr


def test_keda_max_replicas_above_the_partition_count_is_refused(helm: str) -> None:
    result = render(
        helm,
        "--values",
        str(CHART / "ci" / "default-values.yaml"),
        "--set",
        f"services.feedback.autoscaling.maxReplicas={PARTITIONS + 1}",
    )
    assert result.returncode != 0
    assert "exceeds kafka.partitions" in result.stderr


def test_each_service_and_routings_senders_have_a_deployment_service_and_pdb(rendered: Rendered) -> None:
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert sorted(_component(d) for d in rendered.of_kind(kind)) == sorted([*ACCESS, SENDERS]), kind


def test_routings_senders_run_apart_with_routings_settings_and_no_kafka(rendered: Rendered) -> None:
    deployments = {_component(d): d for d in rendered.of_kind("Deployment")}
    (senders,) = deployments[SENDERS]["spec"]["template"]["spec"]["containers"]
    (routing,) = deployments["routing"]["spec"]["template"]["spec"]["containers"]
    assert senders["args"] == ["serve", "routing", "--role", "senders", "--host", "0.0.0.0", "--port", "8013"]
    assert senders["ports"] == [{"name": "http", "containerPort": 8013, "protocol": "TCP"}]
    env = {e["name"]: e for e in routing["env"]}
    assert env["BATON_ROUTING_SENDERS"]["value"] == "separate"
    # The same settings and secrets as routing's.
    assert senders["env"] == routing["env"]
    # One by default; production runs two, so a node drain never stops the notifications.
    assert deployments[SENDERS]["spec"]["replicas"] == (
        2 if rendered.values_file == "values-production.yaml" else 1
    )
    labels = deployments[SENDERS]["spec"]["template"]["metadata"]["labels"]
    assert "baton.io/kafka-client" not in labels
    autoscaled = rendered.of_kind("ScaledObject") + rendered.of_kind("HorizontalPodAutoscaler")
    assert SENDERS not in {_component(o) for o in autoscaled}
    policies = {p["metadata"]["name"]: p["spec"] for p in rendered.of_kind("NetworkPolicy")}
    (rule,) = policies[f"baton-{SENDERS}-ingress"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    outbound = policies.get("baton-routing-egress-outbound")
    if outbound is not None:
        assert outbound["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == SENDERS


def test_routings_senders_can_run_inline_in_routings_pods(helm: str) -> None:
    values = ("--values", str(CHART / "ci/full-values.yaml"), "--set", "routing.senders.enabled=false")
    result = render(helm, *values)
    assert result.returncode == 0, result.stderr
    inline = Rendered("inline", [d for d in yaml.safe_load_all(result.stdout) if d], result.stdout)
    assert SENDERS not in result.stdout
    (routing,) = [d for d in inline.of_kind("Deployment") if _component(d) == "routing"]
    (container,) = routing["spec"]["template"]["spec"]["containers"]
    assert {e["name"]: e for e in container["env"]}["BATON_ROUTING_SENDERS"]["value"] == "inline"
    policies = {p["metadata"]["name"]: p["spec"] for p in inline.of_kind("NetworkPolicy")}
    selector = policies["baton-routing-egress-outbound"]["podSelector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "routing"


def test_every_pod_meets_the_restricted_pod_security_standard(rendered: Rendered) -> None:
    pods = _pod_specs(rendered)
    assert len(pods) == 6
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"] + pod.get("initContainers", []):
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in ctx["capabilities"], name
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{name}: /tmp is not an emptyDir"
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"]["memory"], name


def test_probes_split_readiness_from_liveness(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["args"][:2] == ["serve", _component(deployment).removesuffix("-senders")]


def test_secrets_are_referenced_never_inlined(rendered: Rendered) -> None:
    assert not rendered.of_kind("Secret")
    for name, pod in _pod_specs(rendered):
        for container in pod["containers"]:
            env = {e["name"]: e for e in container["env"]}
            assert "secretKeyRef" in env["BATON_DATABASE_URL"]["valueFrom"], name
            for secret_var in ("BATON_JWT_SECRET", "BATON_KAFKA_SASL_PASSWORD"):
                if secret_var in env:
                    assert "value" not in env[secret_var], name


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(rendered: Rendered) -> None:
    (job,) = rendered.of_kind("Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    hook_accounts = [
        sa["metadata"]["name"]
        for sa in rendered.of_kind("ServiceAccount")
        if "helm.sh/hook" in sa["metadata"].get("annotations", {})
    ]
    assert job["spec"]["template"]["spec"]["serviceAccountName"] in hook_accounts


def test_autoscaling_http_services_with_hpa_and_consumers_with_keda(rendered: Rendered) -> None:
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    keda_targets = {s["spec"]["scaleTargetRef"]["name"]: s for s in rendered.of_kind("ScaledObject")}
    assert not hpa_targets.keys() & keda_targets.keys(), "two autoscalers on one Deployment"
    by_component = {_component(d): d["metadata"]["name"] for d in rendered.of_kind("Deployment")}
    assert by_component["ingest"] in hpa_targets
    for consumer in ("scoring", "routing", "feedback"):
        assert by_component[consumer] in keda_targets, consumer
    # Routing also serves the reps' API: its ScaledObject scales on CPU as well as lag.
    routing_triggers = {t["type"] for t in keda_targets[by_component["routing"]]["spec"]["triggers"]}
    assert routing_triggers == {"kafka", "cpu"}


def test_keda_scales_on_each_consumed_topic_within_the_partition_count(rendered: Rendered) -> None:
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in rendered.of_kind("KafkaTopic")}
    for scaled in rendered.of_kind("ScaledObject"):
        component = _component(scaled)
        kafka = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
        assert {t["topic"] for t in kafka} == ACCESS[component]["reads"] - {LEAD_KEY_CHANGED}
        # One trigger per topic a group reads, in the group that reads it.
        pairs = sorted((t["consumerGroup"], t["topic"]) for t in kafka)
        assert pairs == sorted((g, topic) for g, topics in GROUPS[component].items() for topic in topics)
        assert all(int(t["lagThreshold"]) > 0 for t in kafka)
        assert scaled["spec"]["maxReplicaCount"] <= min(partitions[t["topic"]] for t in kafka)


def test_every_topic_and_dead_letter_topic_has_a_kafka_topic(rendered: Rendered) -> None:
    expected = (
        set(EVENT_TOPICS) | {LEAD_KEY_CHANGED} | {dead_letter_topic(group) for group in CONSUMER_GROUPS}
    )
    topics = rendered.of_kind("KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(expected)
    assert all(t["apiVersion"] == "kafka.strimzi.io/v1" for t in topics)
    # The production example starts with more partitions; they never change afterwards.
    partitions = PRODUCTION_PARTITIONS if rendered.values_file == "values-production.yaml" else PARTITIONS
    assert all(t["spec"]["partitions"] == partitions for t in topics)


def test_kafka_users_grant_least_privilege(rendered: Rendered) -> None:
    # KEDA's own user (test_helm_cluster.py) only describes.
    users = {_component(u): u for u in rendered.of_kind("KafkaUser") if _component(u) != "keda"}
    assert users.keys() == ACCESS.keys()
    for component, user in users.items():
        reads: set[str] = set()
        writes: set[str] = set()
        groups: set[str] = set()
        for acl in user["spec"]["authorization"]["acls"]:
            resource, operations = acl["resource"], set(acl["operations"])
            assert resource["patternType"] == "literal", component
            if resource["type"] == "group":
                assert operations == {"Read", "Describe"}
                groups.add(resource["name"])
            elif operations == {"Read", "Describe"}:
                reads.add(resource["name"])
            else:
                assert operations == {"Write", "Describe"}, component
                writes.add(resource["name"])
        assert reads == ACCESS[component]["reads"], component
        assert writes == ACCESS[component]["writes"], component
        assert groups == set(GROUPS[component]), component


def test_network_policies_deny_by_default_and_expose_only_the_external_services(rendered: Rendered) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in rendered.of_kind("NetworkPolicy")}
    deny = policies["baton-default-deny"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    dns = policies["baton-egress-dns-postgres"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert policies["baton-egress-kafka"]["egress"][0]["ports"]
    for component in ACCESS:
        (rule,) = policies[f"baton-{component}-ingress"]["ingress"]
        namespaces = {
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in rule["from"]
            if "namespaceSelector" in p
        }
        pods = [p["podSelector"]["matchLabels"] for p in rule["from"] if "podSelector" in p]
        # Every service is behind the ingress controller; nothing else outside the namespace.
        assert namespaces == {"monitoring", "ingress-nginx"}, component
        # Inside it, only the pods of the services that call this one (feedback and scoring
        # read each other) carry the internal-client label.
        if component in {"scoring", "feedback"}:
            assert pods == [{"baton.io/internal-client": "true"}], component
        else:
            assert pods == [], component


def test_callers_carry_the_internal_client_label_and_reach_only_what_they_call(rendered: Rendered) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in rendered.of_kind("NetworkPolicy")}
    labelled = {
        _component(d)
        for d in rendered.of_kind("Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("baton.io/internal-client") == "true"
    }
    assert labelled == {"scoring", "feedback"}
    for caller, called, port in (("scoring", "feedback", 8004), ("feedback", "scoring", 8002)):
        (rule,) = policies[f"baton-{caller}-egress-services"]["egress"]
        (peer,) = rule["to"]
        assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == called
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]


EXTERNAL = {"baton-ingest", "baton-scoring", "baton-routing", "baton-feedback"}


def test_ingress_exposes_the_four_services_and_nothing_else(rendered: Rendered) -> None:
    backends = {
        path["backend"]["service"]["name"]
        for ingress in rendered.of_kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends <= EXTERNAL
    if rendered.values_file != "ci/default-values.yaml":
        assert backends == EXTERNAL


def test_service_monitor_scrapes_every_service(rendered: Rendered) -> None:
    (monitor,) = rendered.of_kind("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in rendered.of_kind("Service"):
        labels = service["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in selector.items()), _name(service)
        assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def _metric_names() -> set[str]:
    """Every metric the code defines (the registry's names, `_total` kept for counters)."""
    from prometheus_client import REGISTRY

    # Importing a metrics module registers its metrics.
    for module in ("shared.metrics", "services.routing.metrics", "services.ingest.protection"):
        importlib.import_module(module)
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def test_every_alert_reads_metrics_the_services_export_and_says_what_to_do(rendered: Rendered) -> None:
    (rules,) = rendered.of_kind("PrometheusRule")
    alerts = [rule for group in rules["spec"]["groups"] for rule in group["rules"]]
    assert len({a["alert"] for a in alerts}) == len(alerts) >= 7
    known = _metric_names()
    for alert in alerts:
        if alert["alert"] in {"BatonServiceDown", "BatonBrokerLagGrowing"}:
            continue  # read `up` and the Kafka Exporter's metrics (test_helm_cluster.py)
        used = set(re.findall(r"\bbaton_[a-z_]+", alert["expr"]))
        assert used, alert["alert"]
        assert used <= known, f"{alert['alert']} reads unknown metrics {sorted(used - known)}"
        assert f'namespace="{rules["metadata"]["namespace"]}"' in alert["expr"], alert["alert"]
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"]
        assert alert["annotations"]["description"]
