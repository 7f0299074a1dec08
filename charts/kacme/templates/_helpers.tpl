{{/* SPDX-License-Identifier: Apache-2.0 */}}
{{/* Chart name. */}}
{{- define "kacme.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name prefix: the release name when it already contains the chart name, else <release>-<name>. */}}
{{- define "kacme.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kacme.controller.fullname" -}}{{ include "kacme.fullname" . }}-controller{{- end }}
{{- define "kacme.webhook.fullname" -}}{{ include "kacme.fullname" . }}-webhook{{- end }}
{{/* The webhook's CA Secret (dynamic serving mode; created and rotated by the webhook itself). */}}
{{- define "kacme.webhook.caSecret" -}}{{ include "kacme.webhook.fullname" . }}-ca{{- end }}

{{- define "kacme.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "kacme.controller.fullname" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kacme.webhook.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create }}
{{- default (include "kacme.webhook.fullname" .) .Values.webhook.serviceAccount.name }}
{{- else }}
{{- required "webhook.serviceAccount.name is required when webhook.serviceAccount.create is false" .Values.webhook.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Lease namespace: leaderElection.namespace, else cert-manager's global.leaderElection.namespace, else the
release namespace. */}}
{{- define "kacme.leaderElectionNamespace" -}}
{{- $global := ((.Values.global | default dict).leaderElection | default dict).namespace }}
{{- .Values.leaderElection.namespace | default $global | default .Release.Namespace }}
{{- end }}

{{/* "true" when the CRDs are rendered. crds.enabled defaults to null so that cert-manager's deprecated
installCRDs can be honoured as cert-manager does (CRDs when crds.enabled or installCRDs): unset both means
true (kacme's default); installCRDs alone decides when crds.enabled is unset. */}}
{{- define "kacme.crdsEnabled" -}}
{{- if kindIs "bool" .Values.crds.enabled }}
{{- or .Values.crds.enabled (eq (toString .Values.installCRDs) "true") }}
{{- else if kindIs "bool" .Values.installCRDs }}
{{- .Values.installCRDs }}
{{- else }}
{{- true }}
{{- end }}
{{- end }}

{{/* Controller replicas: cert-manager's top-level replicaCount when set, else controller.replicaCount. */}}
{{- define "kacme.controller.replicas" -}}
{{- if kindIs "invalid" .Values.replicaCount }}{{ .Values.controller.replicaCount }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/* --max-concurrent-challenges: cert-manager's top-level maxConcurrentChallenges when set, else the controller's. */}}
{{- define "kacme.controller.maxConcurrentChallenges" -}}
{{- if kindIs "invalid" .Values.maxConcurrentChallenges }}{{ .Values.controller.maxConcurrentChallenges }}{{ else }}{{ .Values.maxConcurrentChallenges }}{{ end }}
{{- end }}

{{/* The cert-manager chart values this chart accepts but has no counterpart for, those set, comma-separated. */}}
{{- define "kacme.ignoredCertManagerValues" -}}
{{- $ignored := list }}
{{- range $k := list "cainjector" "startupapicheck" }}
{{- if hasKey $.Values $k }}{{ $ignored = append $ignored $k }}{{ end }}
{{- end }}
{{- /* cert-manager's own globals only: an umbrella chart's other globals are none of our business */}}
{{- range $k := list "imagePullSecrets" "commonLabels" "revisionHistoryLimit" "priorityClassName" "rbac" "podSecurityPolicy" "logLevel" "logFormat" }}
{{- if hasKey ($.Values.global | default dict) $k }}{{ $ignored = append $ignored (printf "global.%s" $k) }}{{ end }}
{{- end }}
{{- join ", " $ignored }}
{{- end }}

{{- define "kacme.clusterResourceNamespace" -}}
{{- default .Release.Namespace .Values.controller.clusterResourceNamespace }}
{{- end }}

{{/* Common labels; call with (dict "ctx" $ "component" "controller"). */}}
{{- define "kacme.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "kacme.selectorLabels" . }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels (stable across upgrades); call with (dict "ctx" $ "component" "controller"). */}}
{{- define "kacme.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kacme.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image reference; call with (dict "ctx" $ "image" .Values.controller.image). */}}
{{- define "kacme.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* PodDisruptionBudget spec body; call with the component's podDisruptionBudget values. */}}
{{- define "kacme.pdbSpec" -}}
{{- if and (ne (toString .maxUnavailable) "") (ne (toString .maxUnavailable) "<nil>") }}
maxUnavailable: {{ .maxUnavailable }}
{{- else if and (ne (toString .minAvailable) "") (ne (toString .minAvailable) "<nil>") }}
minAvailable: {{ .minAvailable }}
{{- else }}
minAvailable: 1
{{- end }}
{{- end }}
