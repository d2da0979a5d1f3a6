{{/*
Deep merge of two maps, the second winning. Sprig's merge functions skip "empty" overrides
(false, 0, ""), which would make `services.bird.autoscaling.enabled: false` a no-op, so the
merge is done by hand. Lists are replaced, not concatenated. Returns YAML.
*/}}
{{- define "bird.merge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- range $key, $value := index . 1 -}}
{{- $current := index $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "bird.merge" (list $current $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
The three services with `defaults` merged in, keyed like `services`. Each entry also gets
`key` (bird, birdImage, frontend) and `component` (bird, bird-image, frontend).
Use as: $services := include "bird.services" . | fromYaml
*/}}
{{- define "bird.services" -}}
{{- $services := dict -}}
{{- range $key, $svc := .Values.services -}}
{{- $merged := include "bird.merge" (list $.Values.defaults $svc) | fromYaml -}}
{{- $_ := set $merged "key" $key -}}
{{- $_ := set $merged "component" (kebabcase $key) -}}
{{- $_ := set $services $key $merged -}}
{{- end -}}
{{- toYaml $services -}}
{{- end -}}

{{- define "bird.serviceName" -}}
{{- printf "%s-service" .name -}}
{{- end -}}

{{/*
A scalar value as text. Numbers come out of YAML and JSON as floats, which Go would print as
1e+06 (and `--set image.tag=1234567` gives an int); the schema allows only integers, so print
them as such.
*/}}
{{- define "bird.string" -}}
{{- if kindIs "float64" . -}}
{{- int64 . | toString -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* Image tag, also the app.kubernetes.io/version label. */}}
{{- define "bird.tag" -}}
{{- include "bird.string" .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/*
Full image reference. Expects (dict "root" $ "svc" $svc). There is no default owner: an image
nobody publishes would only show up as ImagePullBackOff once the install has timed out.
*/}}
{{- define "bird.image" -}}
{{- $image := .root.Values.image -}}
{{- $owner := required "image.owner is required: the registry namespace (user or organisation) your images were pushed to, e.g. --set image.owner=<your Docker Hub user>" $image.owner -}}
{{- $ref := printf "%s/%s/%s:%s" $image.registry $owner .svc.image.name (include "bird.tag" .root) -}}
{{- if .svc.image.digest -}}
{{- $ref = printf "%s@%s" $ref .svc.image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/*
Selector labels: the instance label keeps two releases' pods apart even when they share names
(for example the same release in two namespaces watched by one NetworkPolicy).
Expects (dict "root" $ "svc" $svc).
*/}}
{{- define "bird.selectorLabels" -}}
app.kubernetes.io/name: {{ .svc.name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Labels of every object. Expects (dict "root" $ "svc" $svc); svc.version, where set, is the
version of software that is not ours (the store). */}}
{{- define "bird.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bird.selectorLabels" . }}
app.kubernetes.io/component: {{ .svc.component }}
app.kubernetes.io/part-of: bird-stack
app.kubernetes.io/version: {{ .svc.version | default (include "bird.tag" .root) | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/*
A service's ServiceAccount: serviceAccount.name, else the Deployment's name when the chart
creates it, else the namespace's "default". Expects a merged service.
*/}}
{{- define "bird.serviceAccountName" -}}
{{- if .serviceAccount.name -}}
{{- .serviceAccount.name -}}
{{- else if .serviceAccount.create -}}
{{- .name -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the Unsplash key, or "" when no key is configured. */}}
{{- define "bird.unsplashSecretName" -}}
{{- if .Values.unsplash.existingSecret -}}
{{- .Values.unsplash.existingSecret -}}
{{- else if .Values.unsplash.accessKey -}}
{{- printf "%s-unsplash" .Values.services.birdImage.name -}}
{{- end -}}
{{- end -}}

{{/* URL of a service's upstream. Expects (dict "svc" $svc "services" $services). */}}
{{- define "bird.upstreamUrl" -}}
{{- $upstream := .svc.upstream -}}
{{- if $upstream.url -}}
{{- $upstream.url -}}
{{- else -}}
{{- $target := required (printf "services.%s.upstream.service: no service %q" .svc.key $upstream.service) (index .services $upstream.service) -}}
{{- printf "http://%s:%d" (include "bird.serviceName" $target) (int $target.port) -}}
{{- end -}}
{{- end -}}

{{/* An env value as the binaries expect it: always a quoted string. */}}
{{- define "bird.envValue" -}}
{{- include "bird.string" . | quote -}}
{{- end -}}

{{/*
checkov suppressions as metadata annotations (checkov.io/skipN: CHECK_ID=reason).
Expects a list of "CHECK_ID=reason" strings; renders nothing for an empty list.
*/}}
{{- define "bird.checkovSkips" -}}
{{- range $i, $skip := . }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end -}}
{{- end -}}

{{/* Restricted Pod Security Standard, container level. */}}
{{- define "bird.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Restricted Pod Security Standard, pod level; 65532 is distroless's nonroot user. */}}
{{- define "bird.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* NetworkPolicy egress rule to the cluster DNS. */}}
{{- define "bird.dnsEgressRule" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/*
"true" when a kind of the Prometheus Operator is asked for and the cluster serves its API (the
operator's CRDs), else "". Without the API an install would fail on a kind the cluster does not
know, so it is left out and the NOTES say so. Expects (dict "root" $ "kind" "ServiceMonitor"
"enabled" <bool>).
*/}}
{{- define "bird.operatorKind" -}}
{{- if and .enabled (.root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind)) -}}
true
{{- end -}}
{{- end -}}

{{- define "bird.serviceMonitors" -}}
{{- include "bird.operatorKind" (dict "root" . "kind" "ServiceMonitor" "enabled" .Values.metrics.serviceMonitor.enabled) -}}
{{- end -}}

{{- define "bird.prometheusRules" -}}
{{- include "bird.operatorKind" (dict "root" . "kind" "PrometheusRule" "enabled" .Values.metrics.prometheusRule.enabled) -}}
{{- end -}}

{{/*
The helm test pods, keyed like `services` by the service each one calls (they are the only pods
outside the services that the NetworkPolicies admit to them): one asks bird for a bird; with a
store, one reads bird-image's /metrics. Each has `name` and `component`. Use with fromYaml.
*/}}
{{- define "bird.testPods" -}}
{{- if .Values.tests.enabled }}
bird:
  name: {{ printf "%s-test" .Values.services.bird.name }}
  component: test
{{- if and (ne .Values.store.type "none") .Values.services.birdImage.usesStore }}
birdImage:
  name: {{ printf "%s-store-test" .Values.services.birdImage.name }}
  component: test
{{- end }}
{{- end }}
{{- end -}}

{{/*
A helm test pod: one curl container running `script` under the restricted Pod Security
Standard. Expects (dict "root" $ "svc" <test pod> "script" <sh script>).
*/}}
{{- define "bird.testPodManifest" -}}
{{- $image := .root.Values.tests.image }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ .svc.name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "bird.labels" . | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
    {{- $skips := list "CKV_K8S_8=A run-once test pod has nothing to restart" "CKV_K8S_9=A run-once test pod serves no traffic" }}
    {{- if not $image.digest }}
    {{- $skips = append $skips "CKV_K8S_43=Pinned by version tag; set tests.image.digest to pin by digest" }}
    {{- end }}
    {{- include "bird.checkovSkips" $skips | trim | nindent 4 }}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    {{- include "bird.podSecurityContext" . | nindent 4 }}
  containers:
    - name: curl
      image: {{ printf "%s/%s:%s" $image.registry $image.repository $image.tag }}{{ with $image.digest }}@{{ . }}{{ end }}
      # Test runs are rare; always check the registry for the pinned tag.
      imagePullPolicy: Always
      command:
        - sh
        - -c
        - {{ .script | quote }}
      resources:
        requests:
          cpu: 10m
          memory: 16Mi
        limits:
          cpu: 100m
          memory: 64Mi
      securityContext:
        {{- include "bird.containerSecurityContext" . | nindent 8 }}
{{- end -}}

{{/* The in-release Valkey as a service-like object for the helpers above. Use with fromYaml. */}}
{{- define "bird.valkey" -}}
name: {{ .Values.store.valkey.name }}
component: store
version: {{ .Values.store.valkey.image.tag | quote }}
port: {{ int .Values.store.valkey.port }}
{{- end -}}

{{/*
The Secret and key bird-image reads CACHE_URL from, as YAML (name, key), or nothing without a
store: the chart's Valkey Secret (or the one that replaces it), or the external store's.
*/}}
{{- define "bird.storeSecret" -}}
{{- $store := .Values.store }}
{{- if eq $store.type "valkey" }}
name: {{ $store.valkey.existingSecret | default $store.valkey.name }}
key: CACHE_URL
{{- else if eq $store.type "external" }}
name: {{ required "store.external.existingSecret is required with store.type external: the Secret that holds the store's URL" $store.external.existingSecret }}
key: {{ $store.external.secretKey }}
{{- end }}
{{- end -}}
