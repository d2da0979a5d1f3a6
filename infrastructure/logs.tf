# Container Insights log groups, created before the add-on so that retention and encryption
# apply from the start (the agent would otherwise create them without expiry).
resource "aws_cloudwatch_log_group" "container_insights" {
  for_each = toset(["application", "dataplane", "host", "performance"])

  name              = "/aws/containerinsights/${var.cluster_name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  #checkov:skip=CKV_AWS_338:Retention follows the SPEC (7 days, 30 in prod); S3 archives the access logs for two years.
}

locals {
  application_log_group = aws_cloudwatch_log_group.container_insights["application"].name
  performance_log_group = aws_cloudwatch_log_group.container_insights["performance"].name

  # Fluent Bit wraps each JSON line of the services: the line is under `log`, its fields under
  # `log_processed`. An access-log line has message "request" (CONTRACT).
  access_log_filter = "$.log_processed.message = \"request\""
}

# Request metrics from the access logs, one series per service (dimension Service = the
# `service` field: bird, bird-image, frontend). They feed the dashboard.
resource "aws_cloudwatch_log_metric_filter" "requests" {
  name           = "${var.cluster_name}-requests"
  log_group_name = local.application_log_group
  pattern        = "{ ${local.access_log_filter} }"

  metric_transformation {
    namespace  = var.log_metric_namespace
    name       = "RequestCount"
    value      = "1"
    unit       = "Count"
    dimensions = { Service = "$.log_processed.service" }
  }
}

resource "aws_cloudwatch_log_metric_filter" "server_errors" {
  name           = "${var.cluster_name}-5xx"
  log_group_name = local.application_log_group
  pattern        = "{ (${local.access_log_filter}) && ($.log_processed.status_code >= 500) }"

  metric_transformation {
    namespace  = var.log_metric_namespace
    name       = "Http5xxCount"
    value      = "1"
    unit       = "Count"
    dimensions = { Service = "$.log_processed.service" }
  }
}

resource "aws_cloudwatch_log_metric_filter" "response_time" {
  name           = "${var.cluster_name}-response-time"
  log_group_name = local.application_log_group
  pattern        = "{ ${local.access_log_filter} }"

  metric_transformation {
    namespace  = var.log_metric_namespace
    name       = "ResponseTime"
    value      = "$.log_processed.response_time"
    unit       = "Milliseconds"
    dimensions = { Service = "$.log_processed.service" }
  }
}

# Saved CloudWatch Logs Insights queries, under the folder <cluster>/ in the console.
locals {
  saved_queries = {
    errors = {
      log_groups = [local.application_log_group]
      query      = <<-EOT
        fields @timestamp, log_processed.service as service, log_processed.level as level, log_processed.message as message, log_processed.upstream as upstream, log_processed.reason as reason, log_processed.request_id as request_id
        | filter log_processed.level = "ERROR" or log_processed.level = "WARN" or log_processed.status_code >= 500
        | sort @timestamp desc
        | limit 200
      EOT
    }
    response-times = {
      log_groups = [local.application_log_group]
      query      = <<-EOT
        filter log_processed.message = "request"
        | stats avg(log_processed.response_time) as avg_ms, pct(log_processed.response_time, 95) as p95_ms, pct(log_processed.response_time, 99) as p99_ms, count(*) as requests by bin(5m) as period, log_processed.service as service
        | sort period desc, service asc
      EOT
    }
    status-distribution = {
      log_groups = [local.application_log_group]
      query      = <<-EOT
        filter log_processed.message = "request"
        | stats count(*) as requests by log_processed.service as service, log_processed.status_code as status_code
        | sort service asc, requests desc
      EOT
    }
    pod-restarts = {
      log_groups = [local.performance_log_group]
      query      = <<-EOT
        filter Type = "Pod" and Namespace = "${var.app_namespace}"
        | stats sum(pod_number_of_container_restarts) as restarts by bin(5m) as period, PodName
        | filter restarts > 0
        | sort restarts desc
      EOT
    }
    # The photo-quality SLO's bad events: bird's lines for birds answered without a real photo.
    photo-fallbacks = {
      log_groups = [local.application_log_group]
      query      = <<-EOT
        fields @timestamp, log_processed.photo as photo, log_processed.bird as bird, log_processed.reason as reason, log_processed.request_id as request_id
        | filter log_processed.service = "bird" and ispresent(log_processed.photo)
        | stats count(*) as answers by bin(5m) as period, photo, reason
        | sort period desc, answers desc
      EOT
    }
    traffic-volume = {
      log_groups = [local.application_log_group]
      query      = <<-EOT
        filter log_processed.message = "request"
        | stats count(*) as requests by bin(1m) as minute, log_processed.service as service
        | sort minute desc
      EOT
    }
  }
}

resource "aws_cloudwatch_query_definition" "saved" {
  for_each = local.saved_queries

  name            = "${var.cluster_name}/${each.key}"
  log_group_names = each.value.log_groups
  query_string    = each.value.query
}
