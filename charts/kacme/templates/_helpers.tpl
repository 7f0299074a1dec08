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

{{- define "kacme.leaderElectionNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
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
