# Alarms on Container Insights metrics (namespace ContainerInsights, published by the
# amazon-cloudwatch-observability add-on), an SNS topic with an e-mail subscription, and the
# bird-api-overview dashboard.

resource "aws_sns_topic" "alerts" {
  name              = "${var.cluster_name}-alerts"
  kms_master_key_id = aws_kms_key.observability.arn
}

resource "aws_sns_topic_subscription" "alert_email" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  alarm_actions = [aws_sns_topic.alerts.arn]

  # Pod metrics with this dimension set aggregate all pods of one Deployment (PodName is the
  # owning Deployment's name in Container Insights).
  pod_dimensions = {
    for deployment in keys(local.services) : deployment => {
      ClusterName = var.cluster_name
      Namespace   = var.app_namespace
      PodName     = deployment
    }
  }
}

# What differs between the pod alarms. Each exists once per Deployment, named
# <cluster>-<deployment>-<kind>, with the shared settings of the resource below.
locals {
  pod_alarms = {
    # CPU against the pod's limit (not pod_cpu_utilization, which is relative to the node).
    # Average over the Deployment's pods: the HPA should keep it near 70 % of requests, so a
    # sustained average at 80 % of the limit means scaling is not keeping up. Missing data means
    # no pods to measure, which the restart and node alarms and the NLB health check cover.
    cpu-over-limit = {
      metric_name        = "pod_cpu_utilization_over_pod_limit"
      statistic          = "Average"
      period             = var.pod_cpu_alarm.period_seconds
      evaluation_periods = var.pod_cpu_alarm.evaluation_periods
      threshold          = var.pod_cpu_alarm.threshold_percent
      condition          = "average CPU above ${var.pod_cpu_alarm.threshold_percent} % of the pod limit for ${var.pod_cpu_alarm.evaluation_periods} x ${var.pod_cpu_alarm.period_seconds} s"
      runbook            = "infrastructure/README.md#pod-cpu"
    }
    # Memory against the pod's limit: the hottest pod counts (Maximum), because one pod at its
    # limit is the one the kernel kills, whatever the others do.
    memory-over-limit = {
      metric_name        = "pod_memory_utilization_over_pod_limit"
      statistic          = "Maximum"
      period             = var.pod_memory_alarm.period_seconds
      evaluation_periods = var.pod_memory_alarm.evaluation_periods
      threshold          = var.pod_memory_alarm.threshold_percent
      condition          = "memory above ${var.pod_memory_alarm.threshold_percent} % of the pod limit for ${var.pod_memory_alarm.evaluation_periods} x ${var.pod_memory_alarm.period_seconds} s"
      runbook            = "infrastructure/README.md#pod-memory"
    }
    # Restarts since the previous sample, summed over the period: "more than 5 in 5 minutes".
    # No data means no pods reported, not restarts.
    restarts = {
      metric_name        = "pod_number_of_container_restarts"
      statistic          = "Sum"
      period             = var.pod_restart_alarm.period_seconds
      evaluation_periods = 1
      threshold          = var.pod_restart_alarm.max_restarts
      condition          = "more than ${var.pod_restart_alarm.max_restarts} container restarts in ${var.pod_restart_alarm.period_seconds} s"
      runbook            = "infrastructure/README.md#pod-restarts"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "pod" {
  for_each = merge([
    for deployment, dimensions in local.pod_dimensions : {
      for kind, alarm in local.pod_alarms : "${deployment}-${kind}" => merge(alarm, { deployment = deployment, dimensions = dimensions })
    }
  ]...)

  alarm_name          = "${var.cluster_name}-${each.key}"
  alarm_description   = "${each.value.deployment}: ${each.value.condition}. Runbook: ${each.value.runbook}"
  namespace           = "ContainerInsights"
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Any node with a failing condition (NotReady, pressure, ...), at once. The agent publishes this
# cluster metric every minute, 0 included, so missing data is not "healthy": it stays missing
# (INSUFFICIENT_DATA on the dashboard), which says the agent itself stopped reporting.
resource "aws_cloudwatch_metric_alarm" "node_not_ready" {
  alarm_name          = "${var.cluster_name}-node-not-ready"
  alarm_description   = "A node of ${var.cluster_name} has a failing condition. Runbook: infrastructure/README.md#node-not-ready"
  namespace           = "ContainerInsights"
  metric_name         = "cluster_failed_node_count"
  dimensions          = { ClusterName = var.cluster_name }
  statistic           = "Maximum"
  period              = var.node_not_ready_alarm.period_seconds
  evaluation_periods  = var.node_not_ready_alarm.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

locals {
  pod_metric_lines = {
    for alarm in values(local.pod_alarms) :
    alarm.metric_name => [for d in keys(local.services) : ["ContainerInsights", alarm.metric_name, "ClusterName", var.cluster_name, "Namespace", var.app_namespace, "PodName", d, { label = d }]]
  }

  log_metric_lines = {
    for metric in ["RequestCount", "ResponseTime", "Http5xxCount"] :
    metric => [for s in values(local.services) : [var.log_metric_namespace, metric, "Service", s, { label = s }]]
  }

  dashboard_widgets = [
    {
      title   = "Nodes (ready and failing)"
      metrics = [["ContainerInsights", "cluster_node_count", "ClusterName", var.cluster_name], ["ContainerInsights", "cluster_failed_node_count", "ClusterName", var.cluster_name]]
      stat    = "Maximum"
    },
    {
      title   = "Node CPU and memory (% of node)"
      metrics = [["ContainerInsights", "node_cpu_utilization", "ClusterName", var.cluster_name], ["ContainerInsights", "node_memory_utilization", "ClusterName", var.cluster_name]]
      stat    = "Average"
    },
    {
      title   = "Running pods in ${var.app_namespace}"
      metrics = [["ContainerInsights", "namespace_number_of_running_pods", "ClusterName", var.cluster_name, "Namespace", var.app_namespace]]
      stat    = "Maximum"
    },
    {
      title      = "Pod CPU (% of limit)"
      metrics    = local.pod_metric_lines["pod_cpu_utilization_over_pod_limit"]
      stat       = "Average"
      annotation = var.pod_cpu_alarm.threshold_percent
    },
    {
      title      = "Pod memory (% of limit, hottest pod)"
      metrics    = local.pod_metric_lines["pod_memory_utilization_over_pod_limit"]
      stat       = "Maximum"
      annotation = var.pod_memory_alarm.threshold_percent
    },
    {
      title      = "Container restarts"
      metrics    = local.pod_metric_lines["pod_number_of_container_restarts"]
      stat       = "Sum"
      annotation = var.pod_restart_alarm.max_restarts
    },
    {
      title   = "Requests per minute (access logs)"
      metrics = local.log_metric_lines["RequestCount"]
      stat    = "Sum"
    },
    {
      title   = "Response time p95 (ms)"
      metrics = local.log_metric_lines["ResponseTime"]
      stat    = "p95"
    },
    {
      title   = "5xx answers per minute"
      metrics = local.log_metric_lines["Http5xxCount"]
      stat    = "Sum"
    },
  ]
}

resource "aws_cloudwatch_dashboard" "overview" {
  dashboard_name = coalesce(var.dashboard_name, "${var.project_name}-overview")

  # The SLO row first (slo.tf): what visitors see, then the causes.
  dashboard_body = jsonencode({
    widgets = [
      for i, w in concat(local.slo_dashboard_widgets, local.dashboard_widgets) : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = floor(i / 3) * 6
        width  = 8
        height = 6
        properties = merge(
          {
            title   = w.title
            region  = var.aws_region
            view    = "timeSeries"
            stacked = false
            period  = 60
            stat    = w.stat
            metrics = w.metrics
          },
          can(w.annotation) ? { annotations = { horizontal = [{ label = "alarm", value = w.annotation }] } } : {},
          try(w.properties, {})
        )
      }
    ]
  })
}
