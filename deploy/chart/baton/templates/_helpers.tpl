{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "baton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "baton.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "baton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "baton.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "baton.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: baton
{{- end -}}

{{/* Labels of one component; call with (dict "root" $ "component" "ingest"). */}}
{{- define "baton.componentSelectorLabels" -}}
{{ include "baton.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "baton.componentLabels" -}}
{{ include "baton.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "baton.componentName" -}}
{{- printf "%s-%s" (include "baton.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "baton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "baton.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "baton.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "baton.existingSecret" -}}
{{- required "secrets.existingSecret must name a Secret holding the database URL and JWT secret" .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "baton.strimziNamespace" -}}
{{- default .Release.Namespace .Values.kafka.strimzi.namespace -}}
{{- end -}}

{{/* "true" when the pods reach the brokers over TLS (SSL or SASL_SSL), else empty. */}}
{{- define "baton.kafkaTls" -}}
{{- if and .Values.kafka.sasl.enabled (has .Values.kafka.sasl.securityProtocol (list "SSL" "SASL_SSL")) -}}
true
{{- end -}}
{{- end -}}

{{/* kafka.bootstrapServers, else the Strimzi bootstrap Service on its TLS (9093) or plain (9092) listener. */}}
{{- define "baton.kafkaBootstrap" -}}
{{- if .Values.kafka.bootstrapServers -}}
{{- .Values.kafka.bootstrapServers -}}
{{- else -}}
{{- $port := include "baton.kafkaTls" . | empty | ternary 9092 9093 -}}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" .Values.kafka.strimzi.clusterName (include "baton.strimziNamespace" .) $port -}}
{{- end -}}
{{- end -}}

{{- define "baton.kafkaCaSecret" -}}
{{- default (printf "%s-cluster-ca-cert" .Values.kafka.strimzi.clusterName) .Values.kafka.caSecret.name -}}
{{- end -}}

{{/* The most replicas a service runs: its autoscaler's ceiling, or its fixed count. */}}
{{- define "baton.maxReplicas" -}}
{{- if eq .autoscaling.kind "none" -}}
{{- .replicas | default 1 -}}
{{- else -}}
{{- .autoscaling.maxReplicas -}}
{{- end -}}
{{- end -}}

{{/* A service's pool: database.* overridden by services.<svc>.database; call with (dict "root" $ "svc" $svc). */}}
{{- define "baton.pool" -}}
{{- $own := .svc.database | default dict -}}
poolSize: {{ hasKey $own "poolSize" | ternary $own.poolSize .root.Values.database.poolSize }}
maxOverflow: {{ hasKey $own "maxOverflow" | ternary $own.maxOverflow .root.Values.database.maxOverflow }}
{{- end -}}

{{/* Connections the release may hold at once: per service, (max replicas + the 25 % rollout
surge) x (pool + overflow), routing's senders with routing's pool; plus one for the migration job. */}}
{{- define "baton.connectionBudget" -}}
{{- $total := 1 -}}
{{- range $component, $svc := .Values.services -}}
{{- $max := include "baton.maxReplicas" $svc | int -}}
{{- $surge := div (add (mul $max 25) 99) 100 -}}
{{- $pool := include "baton.pool" (dict "root" $ "svc" $svc) | fromYaml -}}
{{- $total = add $total (mul (add $max $surge) (add $pool.poolSize $pool.maxOverflow)) -}}
{{- end -}}
{{- if .Values.routing.senders.enabled -}}
{{- $replicas := .Values.routing.senders.replicas | int -}}
{{- $surge := div (add (mul $replicas 25) 99) 100 -}}
{{- $pool := include "baton.pool" (dict "root" $ "svc" .Values.services.routing) | fromYaml -}}
{{- $total = add $total (mul (add $replicas $surge) (add $pool.poolSize $pool.maxOverflow)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* Consumer group of a service; the app derives it the same way (baton-<service>). */}}
{{- define "baton.consumerGroup" -}}
{{- printf "baton-%s" . -}}
{{- end -}}

{{/* Which consumer group reads which topic, as YAML {group: [topics]}; call with (dict
"component" c "svc" svc). The main group reads what no lane does, and lead.erased is read in
every group (as `split_into_groups` in shared/contracts/topics.py decides). */}}
{{- define "baton.consumerGroups" -}}
{{- $main := include "baton.consumerGroup" .component -}}
{{- $lanes := .svc.lanes | default dict -}}
{{- $laned := list -}}
{{- range $lane, $topics := $lanes }}{{ $laned = concat $laned $topics }}{{ end -}}
{{- $erasure := list -}}
{{- if has "lead.erased" (.svc.consumes | default list) }}{{ $erasure = list "lead.erased" }}{{ end -}}
{{- $own := list -}}
{{- range $topic := .svc.consumes | default list }}{{ if not (has $topic $laned) }}{{ $own = append $own $topic }}{{ end }}{{ end -}}
{{- if $own }}
{{ $main }}: {{ $own | uniq | toJson }}
{{- end }}
{{- range $lane, $topics := $lanes }}
{{ printf "%s-%s" $main $lane }}: {{ concat $topics $erasure | uniq | toJson }}
{{- end }}
{{- end -}}

{{- define "baton.kafkaUserName" -}}
{{- printf "%s-%s" (include "baton.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Environment shared by service pods and the migration job; call with (dict "root" $ "component" "ingest"). */}}
{{- define "baton.env" -}}
{{- $root := .root -}}
- name: BATON_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.existingSecret" $root }}
      key: {{ $root.Values.secrets.databaseUrlKey }}
- name: BATON_KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "baton.kafkaBootstrap" $root | quote }}
{{- $svc := index $root.Values.services .component | default dict }}
{{- $pool := include "baton.pool" (dict "root" $root "svc" $svc) | fromYaml }}
- name: BATON_DATABASE_POOL_SIZE
  value: {{ $pool.poolSize | quote }}
- name: BATON_DATABASE_MAX_OVERFLOW
  value: {{ $pool.maxOverflow | quote }}
- name: BATON_DATABASE_PGBOUNCER
  value: {{ $root.Values.database.pgbouncer | quote }}
- name: BATON_SHUTDOWN_BUDGET_SECONDS
  value: {{ $root.Values.shutdown.budgetSeconds | quote }}
- name: BATON_AUTH_MODE
  value: {{ $root.Values.auth.mode | quote }}
{{- if eq $root.Values.auth.mode "hs256" }}
- name: BATON_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.existingSecret" $root }}
      key: {{ $root.Values.secrets.jwtSecretKey }}
{{- else }}
{{- $oidc := $root.Values.auth.oidc }}
{{- with $oidc.jwksUrl }}
- name: BATON_OIDC_JWKS_URL
  value: {{ . | quote }}
{{- end }}
- name: BATON_OIDC_ISSUER
  value: {{ required "auth.oidc.issuer is required when auth.mode is oidc" $oidc.issuer | quote }}
- name: BATON_OIDC_AUDIENCE
  value: {{ $oidc.audience | quote }}
- name: BATON_OIDC_ROLE_CLAIM
  value: {{ $oidc.roleClaim | quote }}
{{- /* Pretty JSON in a block scalar: a long map stays under the line limit, and JSON ignores newlines. */}}
- name: BATON_OIDC_ROLE_MAP
  value: |-
    {{- $oidc.roleMap | default dict | toPrettyJson | nindent 4 }}
- name: BATON_OIDC_REP_ID_CLAIM
  value: {{ $oidc.repIdClaim | quote }}
- name: BATON_OIDC_EMAIL_CLAIM
  value: {{ $oidc.emailClaim | quote }}
- name: BATON_OIDC_LEEWAY_S
  value: {{ $oidc.leewaySeconds | quote }}
- name: BATON_OIDC_JWKS_MIN_REFRESH_INTERVAL_S
  value: {{ $oidc.jwksMinRefreshIntervalSeconds | quote }}
{{- end }}
- name: BATON_LOG_LEVEL
  value: {{ $root.Values.log.level | quote }}
- name: BATON_LOG_FORMAT
  value: {{ $root.Values.log.format | quote }}
- name: BATON_FORWARDED_ALLOW_IPS
  value: {{ $root.Values.ingress.trustedProxies | default (list "127.0.0.1") | join "," | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "baton-%s" .component | quote }}
{{- with $root.Values.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
{{- end }}
{{- if and $root.Values.kafka.sasl.enabled (ne .component "migrate") }}
- name: BATON_KAFKA_SECURITY_PROTOCOL
  value: {{ $root.Values.kafka.sasl.securityProtocol | quote }}
- name: BATON_KAFKA_SASL_MECHANISM
  value: {{ $root.Values.kafka.sasl.mechanism | quote }}
- name: BATON_KAFKA_SASL_USERNAME
  value: {{ include "baton.kafkaUserName" . | quote }}
- name: BATON_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.kafkaUserName" . }}
      key: password
{{- if include "baton.kafkaTls" $root }}
- name: BATON_KAFKA_SSL_CAFILE
  value: {{ printf "%s/%s" (include "baton.kafkaCaMountPath" $root) $root.Values.kafka.caSecret.key | quote }}
{{- end }}
{{- end }}
{{- if eq .component "ingest" }}
- name: BATON_FORM_RATE_LIMIT_STORE
  value: {{ include "baton.formRateLimitStore" $root | quote }}
{{- end }}
{{- if eq .component "scoring" }}
{{- with include "baton.scoringDashboardUrl" $root }}
- name: BATON_DASHBOARD_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- if eq .component "feedback" }}
{{- range $linked := list "ingest" "scoring" "routing" }}
{{- with include "baton.feedbackLinkUrl" (dict "root" $root "component" $linked) }}
- name: {{ printf "BATON_PUBLIC_%s_URL" (upper $linked) }}
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq .component "routing" }}
{{- include "baton.routingEnv" $root }}
{{- end }}
{{- with (index $root.Values.services .component | default dict).calls }}
{{- range $called := . }}
{{- $calledSvc := index $root.Values.services $called }}
- name: {{ printf "BATON_%s_URL" (upper $called) }}
  value: {{ printf "http://%s:%v" (include "baton.componentName" (dict "root" $root "component" $called)) $calledSvc.port | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $svc.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "baton.kafkaCaMountPath" -}}
/etc/baton/kafka-ca
{{- end -}}

{{- define "baton.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}

{{/* KafkaUser spec.template: metadata of the Secret the User Operator writes (e.g. a replicator's annotations). */}}
{{- define "baton.kafkaUserSecretTemplate" -}}
{{- $meta := .Values.kafka.strimzi.userSecretMetadata -}}
{{- if or $meta.labels $meta.annotations -}}
template:
  secret:
    metadata:
      {{- with $meta.labels }}
      labels:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $meta.annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
{{- end -}}

{{/* The TriggerAuthentication KEDA's Kafka triggers use: keda.authenticationRef, else the chart's own with SASL on and Strimzi. */}}
{{- define "baton.kedaAuthName" -}}
{{- if .Values.keda.authenticationRef.name -}}
{{- .Values.keda.authenticationRef.name -}}
{{- else if and .Values.kafka.sasl.enabled .Values.kafka.strimzi.enabled -}}
{{- include "baton.kafkaUserName" (dict "root" . "component" "keda") -}}
{{- end -}}
{{- end -}}


{{/* Routing's outbound settings (notifications, SMTP, webhooks, CRM); secrets only from the existing Secret. */}}
{{- define "baton.routingEnv" -}}
{{- $r := .Values.routing }}
{{- $secret := include "baton.existingSecret" . }}
- name: BATON_HOT_AGAIN_SCORE_JUMP
  value: {{ $r.hotAgainScoreJump | quote }}
- name: BATON_ROUTING_SENDERS
  value: {{ $r.senders.enabled | ternary "separate" "inline" | quote }}
{{- with include "baton.routingPublicUrl" . }}
- name: BATON_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.secrets.notificationWebhookUrlKey }}
- name: BATON_NOTIFICATION_WEBHOOK_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- end }}
{{- if $r.smtp.host }}
- name: BATON_SMTP_HOST
  value: {{ $r.smtp.host | quote }}
- name: BATON_SMTP_PORT
  value: {{ $r.smtp.port | quote }}
- name: BATON_SMTP_STARTTLS
  value: {{ $r.smtp.starttls | quote }}
{{- with $r.smtp.username }}
- name: BATON_SMTP_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- with .Values.secrets.smtpPasswordKey }}
- name: BATON_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- end }}
{{- with $r.smtp.from }}
- name: BATON_NOTIFICATION_EMAIL_FROM
  value: {{ . | quote }}
{{- end }}
{{- end }}
- name: BATON_WEBHOOK_INTERVAL_S
  value: {{ $r.webhooks.intervalSeconds | quote }}
- name: BATON_WEBHOOK_TIMEOUT_S
  value: {{ $r.webhooks.timeoutSeconds | quote }}
- name: BATON_WEBHOOK_MAX_ATTEMPTS
  value: {{ $r.webhooks.maxAttempts | quote }}
- name: BATON_WEBHOOK_BACKOFF_S
  value: {{ $r.webhooks.backoffSeconds | quote }}
{{- with $r.crm.provider }}
- name: BATON_CRM_PROVIDER
  value: {{ . | quote }}
- name: BATON_CRM_BASE_URL
  value: {{ required "routing.crm.baseUrl is required when routing.crm.provider is set" $r.crm.baseUrl | quote }}
- name: BATON_CRM_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ required "secrets.crmTokenKey must name the CRM token's key when routing.crm.provider is set" $.Values.secrets.crmTokenKey }}
- name: BATON_CRM_SALESFORCE_API_VERSION
  value: {{ $r.crm.salesforceApiVersion | quote }}
{{- end }}
{{- end -}}

{{/* routing.publicUrl, else https://<ingress.hosts.routing> when the ingress exposes routing, else empty. */}}
{{- define "baton.routingPublicUrl" -}}
{{- if .Values.routing.publicUrl -}}
{{- .Values.routing.publicUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts.routing -}}
{{- printf "https://%s" .Values.ingress.hosts.routing -}}
{{- end -}}
{{- end -}}

{{/* scoring.dashboardUrl, else https://<ingress.hosts.feedback> when the ingress exposes feedback, else empty. */}}
{{- define "baton.scoringDashboardUrl" -}}
{{- if .Values.scoring.dashboardUrl -}}
{{- .Values.scoring.dashboardUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts.feedback -}}
{{- printf "https://%s" .Values.ingress.hosts.feedback -}}
{{- end -}}
{{- end -}}

{{/* Where the dashboard's lead look-up links to a service (ingest, scoring, routing), opened by the
reader's browser: feedback.publicUrls.<svc>, else https://<ingress.hosts.<svc>> when that host
routes the links' /v1/leads paths (ingress.paths.<svc> holds /v1 or /v1/leads), else empty (no
link). Call with (dict "root" $ "component" "scoring"). */}}
{{- define "baton.feedbackLinkUrl" -}}
{{- $v := .root.Values -}}
{{- $own := get $v.feedback.publicUrls .component -}}
{{- $host := get $v.ingress.hosts .component -}}
{{- $paths := get $v.ingress.paths .component | default list -}}
{{- if $own -}}
{{- $own -}}
{{- else if and $v.ingress.enabled $host (or (has "/v1" $paths) (has "/v1/leads" $paths)) -}}
{{- printf "https://%s" $host -}}
{{- end -}}
{{- end -}}

{{/* "true" when another service calls this one (services.<svc>.calls); call with (dict "root" $ "component" "scoring"). */}}
{{- define "baton.calledByAnother" -}}
{{- range $caller, $svc := .root.Values.services -}}
{{- if has $.component ($svc.calls | default list) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "true" when routing sends anything outside the cluster (notifications, email, webhooks, CRM), else empty. */}}
{{- define "baton.routingOutbound" -}}
{{- $r := .Values.routing -}}
{{- if or .Values.secrets.notificationWebhookUrlKey $r.notifications.slack $r.smtp.host $r.webhooks.enabled $r.crm.provider -}}
true
{{- end -}}
{{- end -}}

{{/*
Where ingest counts form posts per client: `postgres` (shared by every replica) when ingest may
run more than one replica, `memory` otherwise, unless formRateLimit.store names one.
*/}}
{{- define "baton.formRateLimitStore" -}}
{{- $store := .Values.formRateLimit.store -}}
{{- if eq $store "auto" -}}
{{- $ingest := .Values.services.ingest -}}
{{- $most := int $ingest.replicas -}}
{{- if ne $ingest.autoscaling.kind "none" -}}
{{- $most = max $most (int $ingest.autoscaling.maxReplicas) -}}
{{- end -}}
{{- ternary "postgres" "memory" (gt $most 1) -}}
{{- else -}}
{{- $store -}}
{{- end -}}
{{- end }}
