{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already contains the chart name. */}}
{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gatehouse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ include "gatehouse.chart" . }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gatehouse.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret the pods mount: the user's own, or the one this chart renders. */}}
{{- define "gatehouse.secretName" -}}
{{- default (include "gatehouse.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Where the Secret is mounted; config refers to its keys as ${file:<dir>/<key>}. */}}
{{- define "gatehouse.secretDir" -}}/etc/gatehouse/secrets{{- end }}

{{/* Whether each secret is present, from the chart's Secret or from existingSecret. */}}
{{- define "gatehouse.hasClientSecret" -}}
{{- if .Values.secrets.existingSecret }}{{ if .Values.secrets.existingSecretKeys.clientSecret }}true{{ end }}{{ else if .Values.secrets.clientSecret }}true{{ end }}
{{- end }}
{{- define "gatehouse.cookieSecretCount" -}}
{{- if .Values.secrets.existingSecret }}{{ int .Values.secrets.existingSecretKeys.cookieSecrets }}{{ else }}{{ len .Values.secrets.cookieSecrets }}{{ end }}
{{- end }}
{{- define "gatehouse.hasAssertionKey" -}}
{{- if .Values.secrets.existingSecret }}{{ if .Values.secrets.existingSecretKeys.assertionKey }}true{{ end }}{{ else if .Values.secrets.assertionKey }}true{{ end }}
{{- end }}

{{/*
Refuse values that would deploy a broken proxy, with a message saying what to set.
*/}}
{{- define "gatehouse.validate" -}}
{{- $replicas := ternary (int .Values.autoscaling.maxReplicas) (int .Values.replicaCount) .Values.autoscaling.enabled }}
{{- if and (gt $replicas 1) (not (include "gatehouse.hasAssertionKey" .)) }}
{{- fail "secrets.assertionKey is required with more than one replica: every replica must sign identity assertions with the same key (generate one with `gatehouse keygen`, then --set-file secrets.assertionKey=FILE)" }}
{{- end }}
{{- if and .Values.config.oidc (eq (include "gatehouse.cookieSecretCount" .) "0") }}
{{- fail "secrets.cookieSecrets needs at least one secret of 32+ characters when config.oidc is set (e.g. --set secrets.cookieSecrets[0]=$(openssl rand -base64 48))" }}
{{- end }}
{{- if and (eq .Values.store.type "redis") (not .Values.secrets.existingSecret) (not .Values.store.redisUrl) }}
{{- fail "store.redisUrl is required when store.type is redis" }}
{{- end }}
{{- end }}

{{/*
gatehouse.yaml: .Values.config plus what the chart owns — the listen addresses the Service and
probes rely on, and ${file:…} references to the mounted Secret for every secret.
*/}}
{{- define "gatehouse.config" -}}
{{- $dir := include "gatehouse.secretDir" . }}
{{- $cfg := deepCopy .Values.config }}
{{- $server := get $cfg "server" | default (dict) }}
{{- $_ := set $server "listen" "0.0.0.0:8080" }}
{{- $_ := set $cfg "server" $server }}
{{- $_ := set $cfg "admin" (dict "listen" "0.0.0.0:9090") }}
{{- if and $cfg.oidc (include "gatehouse.hasClientSecret" .) }}
{{- $_ := set $cfg.oidc "client_secret" (printf "${file:%s/client-secret}" $dir) }}
{{- end }}
{{- $count := int (include "gatehouse.cookieSecretCount" .) }}
{{- if gt $count 0 }}
{{- $session := get $cfg "session" | default (dict) }}
{{- $list := list }}
{{- range $i := until $count }}
{{- $list = append $list (printf "${file:%s/cookie-secret-%d}" $dir $i) }}
{{- end }}
{{- $_ := set $session "secrets" $list }}
{{- $_ := set $cfg "session" $session }}
{{- end }}
{{- if include "gatehouse.hasAssertionKey" . }}
{{- $identity := get $cfg "identity" | default (dict) }}
{{- $assertion := get $identity "assertion" | default (dict) }}
{{- $_ := set $assertion "key" (printf "${file:%s/assertion-key}" $dir) }}
{{- $_ := set $identity "assertion" $assertion }}
{{- $_ := set $cfg "identity" $identity }}
{{- end }}
{{- if eq .Values.store.type "redis" }}
{{- $_ := set $cfg "store" (printf "${file:%s/store-url}" $dir) }}
{{- else }}
{{- $_ := set $cfg "store" "memory" }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}
