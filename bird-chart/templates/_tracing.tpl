{{/*
Port of tracing.otlpEndpoint: the one in the URL, else the scheme's. The egress rule to the
receiver opens exactly this port.
*/}}
{{- define "bird.tracingPort" -}}
{{- $url := urlParse .Values.tracing.otlpEndpoint -}}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" -}}
{{- if not $port -}}
{{- $port = ternary "443" "80" (eq $url.scheme "https") -}}
{{- end -}}
{{- if or (lt (int $port) 1) (gt (int $port) 65535) -}}
{{- fail (printf "tracing.otlpEndpoint: port %s is not between 1 and 65535" $port) -}}
{{- end -}}
{{- $port -}}
{{- end -}}

{{/*
Environment of a traced container: the standard OTEL_* variables the services read. The pod's
name comes from the downward API; Kubernetes expands $(POD_NAME) because it is defined first.
Expects (dict "root" $ "svc" $svc).
*/}}
{{- define "bird.tracingEnv" -}}
{{- $tracing := .root.Values.tracing -}}
{{- $attributes := list
  (printf "k8s.namespace.name=%s" .root.Release.Namespace)
  (printf "k8s.deployment.name=%s" .svc.name)
  "k8s.pod.name=$(POD_NAME)" -}}
{{- with $tracing.environment -}}
{{- $attributes = append $attributes (printf "deployment.environment.name=%s" .) -}}
{{- end -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $tracing.otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .svc.component | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $tracing.sampler | quote }}
{{- if hasSuffix "traceidratio" $tracing.sampler }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ toString $tracing.samplerArg | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- end -}}

{{/*
NetworkPolicy egress rule to the OTLP receiver, or nothing while tracing is off. Without a named
receiver every span would be refused at the pod, silently: ask for one instead.
*/}}
{{- define "bird.tracingEgressRule" -}}
{{- if .Values.tracing.enabled -}}
{{- if not .Values.networkPolicy.tracesTo -}}
{{- fail "tracing is on, but the NetworkPolicies would refuse every span: name the receiver's pods in networkPolicy.tracesTo (or set networkPolicy.restrictEgress=false)" -}}
{{- end -}}
- to:
    {{- toYaml .Values.networkPolicy.tracesTo | nindent 4 }}
  ports:
    - port: {{ include "bird.tracingPort" . }}
      protocol: TCP
{{- end -}}
{{- end -}}
