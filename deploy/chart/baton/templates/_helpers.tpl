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

{{/* Consumer group of a service; the app derives it the same way (baton-<service>). */}}
{{- define "baton.consumerGroup" -}}
{{- printf "baton-%s" . -}}
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
  value: {{ $root.Values.kafka.bootstrapServers | quote }}
- name: BATON_AUTH_MODE
  value: {{ $root.Values.auth.mode | quote }}
{{- if eq $root.Values.auth.mode "hs256" }}
- name: BATON_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.existingSecret" $root }}
      key: {{ $root.Values.secrets.jwtSecretKey }}
{{- else }}
- name: BATON_OIDC_JWKS_URL
  value: {{ required "auth.oidc.jwksUrl is required when auth.mode is oidc" $root.Values.auth.oidc.jwksUrl | quote }}
- name: BATON_OIDC_ISSUER
  value: {{ required "auth.oidc.issuer is required when auth.mode is oidc" $root.Values.auth.oidc.issuer | quote }}
- name: BATON_OIDC_AUDIENCE
  value: {{ $root.Values.auth.oidc.audience | quote }}
{{- end }}
- name: BATON_LOG_LEVEL
  value: {{ $root.Values.log.level | quote }}
- name: BATON_LOG_FORMAT
  value: {{ $root.Values.log.format | quote }}
- name: BATON_FORWARDED_ALLOW_IPS
  value: {{ $root.Values.ingress.trustedProxies | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "baton-%s" .component | quote }}
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
{{- end }}
{{- if and (eq .component "routing") $root.Values.secrets.notificationWebhookUrlKey }}
- name: BATON_NOTIFICATION_WEBHOOK_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.existingSecret" $root }}
      key: {{ $root.Values.secrets.notificationWebhookUrlKey }}
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
{{- end -}}

{{- define "baton.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}
