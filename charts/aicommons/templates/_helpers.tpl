{{/* Names and labels. */}}
{{- define "aicommons.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aicommons.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "aicommons.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aicommons.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aicommons.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aicommons.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "aicommons.mlflowUrl" -}}
{{- printf "http://%s-mlflow:%v" (include "aicommons.fullname" .) .Values.mlflow.port -}}
{{- end -}}

{{/* The AICOMMONS_* environment shared by the portal, the scheduler and the migrations Job:
     typed values first, then `settings`, then secrets by reference. Inline (no ConfigMap), because
     the migrations hook runs before the release's other objects exist. */}}
{{- define "aicommons.env" -}}
{{- $settings := dict
  "public_url" .Values.publicUrl
  "migrate_on_start" "false"
  "datasets_storage" "s3"
  "s3_endpoint" .Values.s3.endpoint
  "s3_region" .Values.s3.region
  "s3_bucket" .Values.s3.bucket
  "scheduler_period_s" (toString .Values.scheduler.periodSeconds)
  "scheduler_lease_s" (toString .Values.scheduler.leaseSeconds)
  "jobs_launcher" "kuberay"
  "jobs_stop_grace_s" (toString .Values.kuberay.stopGraceSeconds)
  "kuberay_namespace_prefix" .Values.kuberay.namespacePrefix
  "kuberay_image" .Values.kuberay.rayImage
  "kuberay_ttl_after_finished_s" (toString .Values.kuberay.ttlSecondsAfterFinished)
  "kuberay_flavours" (toJson .Values.kuberay.flavours)
  "kuberay_workdir_bucket" .Values.kuberay.workdirBucket
-}}
{{- if .Values.kuberay.workdirPublicEndpoint }}{{ $_ := set $settings "kuberay_workdir_public_endpoint" .Values.kuberay.workdirPublicEndpoint }}{{ end }}
{{- if .Values.kuberay.kueueQueue }}{{ $_ := set $settings "kuberay_kueue_queue" .Values.kuberay.kueueQueue }}{{ end }}
{{- if .Values.mlflow.enabled }}{{ $_ := set $settings "mlflow_external_url" (include "aicommons.mlflowUrl" .) }}{{ end }}
{{- if .Values.keycloak.enabled }}
{{- $_ := set $settings "oidc_issuer" .Values.keycloak.issuer }}
{{- $_ := set $settings "oidc_client_id" .Values.keycloak.clientId }}
{{- $_ := set $settings "oidc_cli_client_id" .Values.keycloak.cliClientId }}
{{- end }}
{{- range $key, $value := .Values.settings }}{{ $_ := set $settings $key (toString $value) }}{{ end }}
- name: AICOMMONS_DATA_DIR
  value: /var/lib/aicommons
{{- range $key := keys $settings | sortAlpha }}
- name: {{ printf "AICOMMONS_%s" (upper $key) }}
  value: {{ get $settings $key | quote }}
{{- end }}
- name: AICOMMONS_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.database.existingSecret }}, key: {{ .Values.database.urlKey }}}}
- name: AICOMMONS_S3_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.s3.existingSecret }}, key: {{ .Values.s3.accessKeyKey }}}}
- name: AICOMMONS_S3_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.s3.existingSecret }}, key: {{ .Values.s3.secretKeyKey }}}}
{{- if .Values.keycloak.enabled }}
- name: AICOMMONS_OIDC_CLIENT_SECRET
  valueFrom: {secretKeyRef: {name: {{ .Values.keycloak.existingSecret }}, key: {{ .Values.keycloak.clientSecretKey }}}}
{{- end }}
{{- end -}}

{{- define "aicommons.podCommon" -}}
serviceAccountName: {{ include "aicommons.serviceAccountName" . }}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "aicommons.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{/* The data directory: job working-directory archives are written by the portal and read by the
     scheduler's launcher, so both must mount the same ReadWriteMany claim. */}}
{{- define "aicommons.dataVolume" -}}
{{- if .Values.dataVolume.existingClaim -}}
- {name: data, persistentVolumeClaim: {claimName: {{ .Values.dataVolume.existingClaim }}}}
{{- else -}}
- {name: data, emptyDir: {}}
{{- end -}}
{{- end -}}
