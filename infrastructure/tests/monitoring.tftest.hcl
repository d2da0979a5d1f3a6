# monitoring.tf and logs.tf: alarms on metrics Container Insights really publishes, the topic,
# the dashboard, log groups, metric filters and saved queries.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

# The aliased configurations (ACM in us-east-1, the Chatbot API region) are mocked the same way.
mock_provider "aws" {
  alias           = "us_east_1"
  override_during = plan
  source          = "./tests/mocks"
}

mock_provider "aws" {
  alias           = "chatbot"
  override_during = plan
  source          = "./tests/mocks"
}

run "alarms_dashboard_logs_and_queries_follow_the_spec" {
  command = plan

  assert {
    condition = alltrue([
      for d in ["bird-api", "bird-image-api", "bird-frontend"] :
      aws_cloudwatch_metric_alarm.pod["${d}-cpu-over-limit"].dimensions == tomap({ ClusterName = "bird-api-cluster", Namespace = "bird", PodName = d }) &&
      aws_cloudwatch_metric_alarm.pod["${d}-memory-over-limit"].dimensions == aws_cloudwatch_metric_alarm.pod["${d}-cpu-over-limit"].dimensions &&
      aws_cloudwatch_metric_alarm.pod["${d}-restarts"].dimensions == aws_cloudwatch_metric_alarm.pod["${d}-cpu-over-limit"].dimensions
    ])
    error_message = "Each pod alarm must exist per Deployment with the {ClusterName, Namespace, PodName} dimensions."
  }
  assert {
    condition = alltrue([
      for a in concat(values(aws_cloudwatch_metric_alarm.pod), [aws_cloudwatch_metric_alarm.node_not_ready]) :
      a.namespace == "ContainerInsights" && a.alarm_actions == toset([aws_sns_topic.alerts.arn]) && a.ok_actions == toset([aws_sns_topic.alerts.arn])
    ])
    error_message = "Every alarm must read namespace ContainerInsights and notify the SNS topic."
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.pod :
      a.metric_name == "pod_cpu_utilization_over_pod_limit" && a.threshold == 80 && a.comparison_operator == "GreaterThanThreshold" &&
      a.period == 300 && a.evaluation_periods == 2 && a.statistic == "Average" && a.treat_missing_data == "notBreaching"
      if endswith(k, "-cpu-over-limit")
    ])
    error_message = "CPU: pod_cpu_utilization_over_pod_limit above 80 for 2 x 300 s."
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.pod :
      a.metric_name == "pod_memory_utilization_over_pod_limit" && a.threshold == 85 && a.comparison_operator == "GreaterThanThreshold" &&
      a.period == 300 && a.evaluation_periods == 2 && a.statistic == "Maximum" && a.treat_missing_data == "notBreaching"
      if endswith(k, "-memory-over-limit")
    ])
    error_message = "Memory: pod_memory_utilization_over_pod_limit above 85 for 2 x 300 s."
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.pod :
      a.metric_name == "pod_number_of_container_restarts" && a.threshold == 5 && a.comparison_operator == "GreaterThanThreshold" &&
      a.period == 300 && a.evaluation_periods == 1 && a.statistic == "Sum" && a.treat_missing_data == "notBreaching"
      if endswith(k, "-restarts")
    ])
    error_message = "Restarts: Sum of pod_number_of_container_restarts above 5 over 300 s."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.node_not_ready.metric_name == "cluster_failed_node_count" &&
      aws_cloudwatch_metric_alarm.node_not_ready.dimensions == tomap({ ClusterName = "bird-api-cluster" }) &&
      aws_cloudwatch_metric_alarm.node_not_ready.threshold == 0 &&
      aws_cloudwatch_metric_alarm.node_not_ready.comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.node_not_ready.period == 60 &&
      aws_cloudwatch_metric_alarm.node_not_ready.evaluation_periods == 1 &&
      aws_cloudwatch_metric_alarm.node_not_ready.treat_missing_data == "missing"
    )
    error_message = "Node: cluster_failed_node_count above 0 in one 60 s period."
  }
  assert {
    condition = toset([for a in values(aws_cloudwatch_metric_alarm.pod) : a.alarm_name]) == toset([
      for p in setproduct(["bird-api", "bird-image-api", "bird-frontend"], ["cpu-over-limit", "memory-over-limit", "restarts"]) : "bird-api-cluster-${p[0]}-${p[1]}"
    ])
    error_message = "Three services times three pod alarms, named <cluster>-<deployment>-<kind>."
  }
  assert {
    condition = { for a in values(aws_cloudwatch_metric_alarm.pod) : a.alarm_name => a.alarm_description if a.dimensions["PodName"] == "bird-api" } == {
      "bird-api-cluster-bird-api-cpu-over-limit"    = "bird-api: average CPU above 80 % of the pod limit for 2 x 300 s. Runbook: infrastructure/README.md#pod-cpu"
      "bird-api-cluster-bird-api-memory-over-limit" = "bird-api: memory above 85 % of the pod limit for 2 x 300 s. Runbook: infrastructure/README.md#pod-memory"
      "bird-api-cluster-bird-api-restarts"          = "bird-api: more than 5 container restarts in 300 s. Runbook: infrastructure/README.md#pod-restarts"
    }
    error_message = "Each pod alarm's description must say its Deployment, condition and runbook section."
  }
  assert {
    condition     = aws_sns_topic_subscription.alert_email.protocol == "email" && aws_sns_topic_subscription.alert_email.endpoint == "ops@example.com" && aws_sns_topic.alerts.kms_master_key_id == aws_kms_key.observability.arn
    error_message = "The encrypted topic must e-mail alert_email."
  }
  assert {
    condition = anytrue([
      for st in jsondecode(aws_kms_key.observability.policy).Statement :
      st.Principal == { Service = "cloudwatch.amazonaws.com" } && contains(flatten([st.Action]), "kms:GenerateDataKey*")
    ])
    error_message = "CloudWatch alarms must be able to publish to the encrypted topic."
  }

  assert {
    condition     = aws_cloudwatch_dashboard.overview.dashboard_name == "bird-api-overview"
    error_message = "The dashboard must be named bird-api-overview."
  }
  assert {
    condition = alltrue([for m in [
      "cluster_node_count", "cluster_failed_node_count", "node_cpu_utilization", "node_memory_utilization",
      "pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit", "pod_number_of_container_restarts",
      "RequestCount", "ResponseTime", "Http5xxCount",
      ] : contains(flatten([for w in jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets : [for line in w.properties.metrics : line[1] if length(line) > 1]]), m)
    ])
    error_message = "The dashboard must chart nodes, pods, and per-service request rate, latency and 5xx."
  }
  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets : [for line in w.properties.metrics : line[3] if try(line[2], null) == "Service"]
    ])) == toset(["bird", "bird-image", "frontend"])
    error_message = "Request metrics must be charted for the three services by their log `service` value."
  }

  assert {
    condition = alltrue([for g in aws_cloudwatch_log_group.container_insights : g.retention_in_days == 7 && g.kms_key_id == aws_kms_key.observability.arn]) && (
      aws_cloudwatch_log_group.container_insights["application"].name == "/aws/containerinsights/bird-api-cluster/application"
    )
    error_message = "Container Insights log groups, the application one included, must keep 7 days and be encrypted."
  }
  assert {
    condition = (
      aws_cloudwatch_log_metric_filter.requests.log_group_name == "/aws/containerinsights/bird-api-cluster/application" &&
      aws_cloudwatch_log_metric_filter.requests.pattern == "{ $.log_processed.message = \"request\" }" &&
      aws_cloudwatch_log_metric_filter.server_errors.pattern == "{ ($.log_processed.message = \"request\") && ($.log_processed.status_code >= 500) }" &&
      aws_cloudwatch_log_metric_filter.response_time.metric_transformation[0].value == "$.log_processed.response_time" &&
      aws_cloudwatch_log_metric_filter.response_time.metric_transformation[0].unit == "Milliseconds" &&
      alltrue([for f in [aws_cloudwatch_log_metric_filter.requests, aws_cloudwatch_log_metric_filter.server_errors, aws_cloudwatch_log_metric_filter.response_time] :
      f.metric_transformation[0].dimensions == tomap({ Service = "$.log_processed.service" }) && f.metric_transformation[0].namespace == "BirdApi"])
    )
    error_message = "Metric filters must read the access-log fields under log_processed, per service."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_query_definition.saved)) == toset(["errors", "response-times", "status-distribution", "pod-restarts", "traffic-volume", "photo-fallbacks"])
    error_message = "The five saved queries of the SPEC and the photo-quality SLO's must exist."
  }
  assert {
    condition = (
      strcontains(aws_cloudwatch_query_definition.saved["errors"].query_string, "log_processed.level = \"ERROR\"") &&
      strcontains(aws_cloudwatch_query_definition.saved["response-times"].query_string, "pct(log_processed.response_time, 95)") &&
      strcontains(aws_cloudwatch_query_definition.saved["response-times"].query_string, "pct(log_processed.response_time, 99)") &&
      strcontains(aws_cloudwatch_query_definition.saved["response-times"].query_string, "avg(log_processed.response_time)") &&
      strcontains(aws_cloudwatch_query_definition.saved["status-distribution"].query_string, "log_processed.status_code") &&
      strcontains(aws_cloudwatch_query_definition.saved["pod-restarts"].query_string, "pod_number_of_container_restarts") &&
      strcontains(aws_cloudwatch_query_definition.saved["traffic-volume"].query_string, "count(*)")
    )
    error_message = "The queries must use the services' log field names."
  }
  assert {
    condition     = aws_cloudwatch_query_definition.saved["pod-restarts"].log_group_names == tolist(["/aws/containerinsights/bird-api-cluster/performance"]) && aws_cloudwatch_query_definition.saved["errors"].log_group_names == tolist(["/aws/containerinsights/bird-api-cluster/application"])
    error_message = "Restarts come from the performance log group, the rest from the application log group."
  }
}

run "thresholds_are_variables" {
  command = plan

  variables {
    pod_cpu_alarm     = { threshold_percent = 90, period_seconds = 60, evaluation_periods = 3 }
    pod_restart_alarm = { max_restarts = 2, period_seconds = 600 }
    app_namespace     = "birds"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.pod["bird-api-cpu-over-limit"].threshold == 90 && aws_cloudwatch_metric_alarm.pod["bird-api-cpu-over-limit"].period == 60 && aws_cloudwatch_metric_alarm.pod["bird-api-cpu-over-limit"].evaluation_periods == 3
    error_message = "CPU alarm settings must come from pod_cpu_alarm."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.pod["bird-frontend-restarts"].threshold == 2 && aws_cloudwatch_metric_alarm.pod["bird-frontend-restarts"].period == 600 && aws_cloudwatch_metric_alarm.pod["bird-frontend-restarts"].dimensions["Namespace"] == "birds"
    error_message = "Restart alarm settings and the namespace must come from the variables."
  }
}

run "observability_variables_are_validated" {
  command = plan

  variables {
    alert_email          = "not-an-address"
    log_retention_days   = 10
    log_metric_namespace = "AWS/Bird"
    dashboard_name       = "bird api overview"
    pod_cpu_alarm        = { threshold_percent = 120, period_seconds = 300, evaluation_periods = 2 }
    pod_memory_alarm     = { threshold_percent = 85, period_seconds = 90, evaluation_periods = 2 }
    node_not_ready_alarm = { period_seconds = 60, evaluation_periods = 0 }
    pod_restart_alarm    = { max_restarts = -1, period_seconds = 300 }
    app_namespace        = "Bird"
  }

  expect_failures = [
    var.alert_email,
    var.log_retention_days,
    var.log_metric_namespace,
    var.dashboard_name,
    var.pod_cpu_alarm,
    var.pod_memory_alarm,
    var.node_not_ready_alarm,
    var.pod_restart_alarm,
    var.app_namespace,
  ]
}
