{{/* The chart name, for app.kubernetes.io/name. */}}
{{- define "bindery.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names: the release name, unless it already holds the chart name. */}}
{{- define "bindery.fullname" -}}
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

{{/* The account, checked: it is a label value and part of the Lease name. */}}
{{- define "bindery.account" -}}
{{- $a := toString .Values.policy.account }}
{{- if not (regexMatch "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$" $a) }}
{{- fail (printf "policy.account %q is not valid: 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit" $a) }}
{{- end }}
{{- $a }}
{{- end }}

{{/* Labels of the Deployment's selector; never change them on upgrade. */}}
{{- define "bindery.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bindery.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object. Never app.kubernetes.io/managed-by: bindery: the
operator deletes its own orphaned Services by that label and the account.
*/}}
{{- define "bindery.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bindery.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
bindery.dev/account: {{ include "bindery.account" . }}
{{- end }}

{{- define "bindery.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bindery.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "bindery.policyConfigMap" -}}
{{- printf "%s-policy" (include "bindery.fullname" .) }}
{{- end }}

{{- define "bindery.pluginsConfigMap" -}}
{{- printf "%s-plugins" (include "bindery.fullname" .) }}
{{- end }}

{{- define "bindery.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion (toString .Values.image.tag)) }}
{{- end }}
