{{/*
Helpers for the IronLB chart. Object names derive from the release name ("ironlb" gives the
names of manifests/ironlb.yaml); labels are fixed so that the chart and the plain manifests
select the same pods.
*/}}

{{/* The labels of one component: include "ironlb.labels" "controller" */}}
{{- define "ironlb.labels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/component: {{ . }}
{{- end }}

{{/* The container image: repository and tag, the tag defaulting to the chart's appVersion. */}}
{{- define "ironlb.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Checks across values that values.schema.json cannot express; renders nothing. */}}
{{- define "ironlb.validate" -}}
{{- if and .Values.config.existingConfigMap .Values.config.inline }}
{{- fail "config.inline and config.existingConfigMap are exclusive: set one of them" }}
{{- end }}
{{- if and (not .Values.controller.leaderElection.enabled) (gt (int .Values.controller.replicas) 1) }}
{{- fail "controller.leaderElection.enabled=false needs controller.replicas=1: two controllers without a leader would both write Service status" }}
{{- end }}
{{- end }}
