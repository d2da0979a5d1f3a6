# Service level objectives (var.slo): their indicators from the access logs, multiwindow
# multi-burn-rate alarms joined by composite alarms to the alert topic, and the dashboard's SLO
# row. README: Service level objectives, and a runbook section per objective.

locals {
  # The SRE workbook's two paging alerts ("Alerting on SLOs"): fast when 2 % of the window's
  # error budget burns in one hour, slow when 5 % burns in six hours. Each also needs its short
  # window (a twelfth of the long one) above the threshold, so it stops soon after the burn.
  slo_burns = {
    fast = { budget_percent = 2, long_minutes = 60, short_minutes = 5 }
    slow = { budget_percent = 5, long_minutes = 360, short_minutes = 30 }
  }

  # How many times the sustainable rate each burn is: 14.4 and 6 over 30 days.
  slo_burn_rates = {
    for speed, burn in local.slo_burns :
    speed => burn.budget_percent * var.slo.window_days * 24 * 60 / (100 * burn.long_minutes)
  }

  # What each objective counts: its bad events (summed) and all its events, metrics the filters
  # below publish (and RequestCount of logs.tf) in var.log_metric_namespace. Keys name the
  # alarms and the runbook sections (README.md#slo-<key>).
  slo_objectives = {
    for slo, objective in {
      availability = {
        title          = "Availability"
        target_percent = var.slo.availability.target_percent
        good           = "page and /api/bird requests answered without a 5xx"
        bad_events     = "page and /api/bird requests answered 5xx"
        bad            = [{ name = "PageAndApi5xxCount", dimensions = {} }]
        total          = { name = "PageAndApiRequestCount", dimensions = {} }
      }
      latency = {
        title          = "Latency"
        target_percent = var.slo.latency.target_percent
        good           = "/api/bird requests answered within ${var.slo.latency.threshold_ms} ms"
        bad_events     = "/api/bird requests slower than ${var.slo.latency.threshold_ms} ms"
        bad            = [{ name = "ApiBirdSlowCount", dimensions = {} }]
        total          = { name = "ApiBirdRequestCount", dimensions = {} }
      }
      photo-quality = {
        title          = "Photo quality"
        target_percent = var.slo.photo_quality.target_percent
        good           = "birds answered with a real photo"
        bad_events     = "birds answered without a real photo"
        bad            = [for photo in ["default", "disguised"] : { name = "PhotoFallbackCount", dimensions = { Photo = photo } }]
        # bird's access lines: it serves one route to one caller (the frontend, by NetworkPolicy),
        # and its probes are not logged, so each line is one bird answered.
        total = { name = "RequestCount", dimensions = { Service = local.services["bird-api"] } }
      }
    } : slo => objective if slo != "photo-quality" || var.slo.photo_quality.enabled
  }

  # The bad-event ratio as CloudWatch metric math over the metric ids bad0, bad1, ... and
  # total. Bad events are published only when they happen, so a period without any is 0.
  slo_bad_ratio = {
    for slo, objective in local.slo_objectives :
    slo => "(${join(" + ", [for i in range(length(objective.bad)) : "FILL(bad${i}, 0)"])}) / total"
  }

  # The one place the thresholds come from: the burn rate times the objective's error budget.
  # A bad-event ratio above it over both windows of a burn sets off that burn's composite alarm.
  slo_error_ratio_thresholds = {
    for slo, objective in local.slo_objectives : slo => {
      for speed, rate in local.slo_burn_rates : speed => rate * (100 - objective.target_percent) / 100
    }
  }
}

# --- Indicators: metric filters on the services' access and answer lines ----------------------

locals {
  frontend_access_log = "(${local.access_log_filter}) && ($.log_processed.service = \"${local.services["bird-frontend"]}\")"
  page_or_api_bird    = "($.log_processed.path = \"/\" || $.log_processed.path = \"/api/bird\")"
  api_bird            = "($.log_processed.path = \"/api/bird\")"

  slo_metric_filters = {
    for key, filter in {
      page-and-api-requests = {
        metric  = "PageAndApiRequestCount"
        pattern = "{ ${local.frontend_access_log} && ${local.page_or_api_bird} }"
      }
      page-and-api-5xx = {
        metric  = "PageAndApi5xxCount"
        pattern = "{ ${local.frontend_access_log} && ${local.page_or_api_bird} && ($.log_processed.status_code >= 500) }"
      }
      api-bird-requests = {
        metric  = "ApiBirdRequestCount"
        pattern = "{ ${local.frontend_access_log} && ${local.api_bird} }"
      }
      # response_time is in milliseconds; a request at the threshold is within it, as in the
      # histogram bucket le=<threshold> the PrometheusRule reads.
      api-bird-slow = {
        metric  = "ApiBirdSlowCount"
        pattern = "{ ${local.frontend_access_log} && ${local.api_bird} && ($.log_processed.response_time > ${var.slo.latency.threshold_ms}) }"
      }
      # bird logs one line per bird answered without a real photo, its `photo` field saying which.
      photo-fallbacks = {
        metric     = "PhotoFallbackCount"
        pattern    = "{ ($.log_processed.service = \"${local.services["bird-api"]}\") && ($.log_processed.photo = \"default\" || $.log_processed.photo = \"disguised\") }"
        dimensions = { Photo = "$.log_processed.photo" }
      }
    } : key => filter if key != "photo-fallbacks" || var.slo.photo_quality.enabled
  }
}

resource "aws_cloudwatch_log_metric_filter" "slo" {
  for_each = local.slo_metric_filters

  name           = "${var.cluster_name}-slo-${each.key}"
  log_group_name = local.application_log_group
  pattern        = each.value.pattern

  metric_transformation {
    namespace  = var.log_metric_namespace
    name       = each.value.metric
    value      = "1"
    unit       = "Count"
    dimensions = lookup(each.value, "dimensions", null)
  }
}

# --- Alarms: one per objective, burn and window, joined per burn by a composite alarm ---------

locals {
  # <slo>-<speed> => its long and short windows, each an alarm named <cluster>-slo-<slo>-<speed>-<window>.
  slo_burn_alarms = {
    for pair in setproduct(keys(local.slo_objectives), keys(local.slo_burns)) : "${pair[0]}-${pair[1]}" => {
      slo   = pair[0]
      speed = pair[1]
      windows = [
        for minutes in [local.slo_burns[pair[1]].long_minutes, local.slo_burns[pair[1]].short_minutes] : {
          key     = "${pair[0]}-${pair[1]}-${minutes % 60 == 0 ? "${minutes / 60}h" : "${minutes}m"}"
          minutes = minutes
          window  = minutes % 60 == 0 ? "${minutes / 60} h" : "${minutes} min"
        }
      ]
    }
  }

  slo_window_alarms = merge([
    for burn in values(local.slo_burn_alarms) : {
      for window in burn.windows : window.key => merge(window, { slo = burn.slo, speed = burn.speed })
    }
  ]...)

  slo_runbook = { for slo in keys(local.slo_objectives) : slo => "infrastructure/README.md#slo-${slo}" }
}

resource "aws_cloudwatch_metric_alarm" "slo_window" {
  for_each = local.slo_window_alarms

  alarm_name          = "${var.cluster_name}-slo-${each.key}"
  alarm_description   = "${local.slo_objectives[each.value.slo].title} SLO, ${each.value.speed} burn, ${each.value.window} window: ${local.slo_objectives[each.value.slo].bad_events} above ${format("%g", local.slo_error_ratio_thresholds[each.value.slo][each.value.speed] * 100)} % of all (${format("%g", local.slo_burn_rates[each.value.speed])} x the ${format("%g", 100 - local.slo_objectives[each.value.slo].target_percent)} % budget). Notifies through ${var.cluster_name}-slo-${each.value.slo}-${each.value.speed}-burn. Runbook: ${local.slo_runbook[each.value.slo]}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.slo_error_ratio_thresholds[each.value.slo][each.value.speed]
  evaluation_periods  = 1
  # No requests in the window: nothing burnt. A quiet hour is not an outage (runbook).
  treat_missing_data = "notBreaching"
  # No actions: the composite alarm of the burn notifies, once, when both its windows agree.

  dynamic "metric_query" {
    for_each = local.slo_objectives[each.value.slo].bad
    content {
      id = "bad${metric_query.key}"
      metric {
        namespace   = var.log_metric_namespace
        metric_name = metric_query.value.name
        dimensions  = metric_query.value.dimensions
        period      = each.value.minutes * 60
        stat        = "Sum"
      }
    }
  }

  metric_query {
    id = "total"
    metric {
      namespace   = var.log_metric_namespace
      metric_name = local.slo_objectives[each.value.slo].total.name
      dimensions  = local.slo_objectives[each.value.slo].total.dimensions
      period      = each.value.minutes * 60
      stat        = "Sum"
    }
  }

  metric_query {
    id          = "error_ratio"
    expression  = local.slo_bad_ratio[each.value.slo]
    label       = "${local.slo_objectives[each.value.slo].title}: bad-event ratio over ${each.value.window}"
    return_data = true
  }

  lifecycle {
    precondition {
      condition     = local.slo_error_ratio_thresholds[each.value.slo][each.value.speed] < 1
      error_message = "The ${each.value.speed} burn of the ${each.value.slo} SLO could never fire: it needs a bad-event ratio above ${format("%g", local.slo_error_ratio_thresholds[each.value.slo][each.value.speed] * 100)} %. Raise its target_percent or shorten slo.window_days."
    }
  }
}

resource "aws_cloudwatch_composite_alarm" "slo_burn" {
  for_each = local.slo_burn_alarms

  alarm_name        = "${var.cluster_name}-slo-${each.key}-burn"
  alarm_description = "${local.slo_objectives[each.value.slo].title} SLO (${format("%g", local.slo_objectives[each.value.slo].target_percent)} % of ${local.slo_objectives[each.value.slo].good}, over ${var.slo.window_days} days) burning ${each.value.speed}: ${format("%g", local.slo_burn_rates[each.value.speed])} x the sustainable rate, ${local.slo_burns[each.value.speed].budget_percent} % of the error budget in ${each.value.windows[0].window}, over ${each.value.windows[0].window} and ${each.value.windows[1].window} alike. Runbook: ${local.slo_runbook[each.value.slo]}"
  alarm_rule        = join(" AND ", [for window in each.value.windows : "ALARM(\"${aws_cloudwatch_metric_alarm.slo_window[window.key].alarm_name}\")"])
  alarm_actions     = local.alarm_actions
  ok_actions        = local.alarm_actions
}

# --- Dashboard: the SLO row of bird-api-overview (monitoring.tf places it first) -------------

locals {
  # Metric lines of an objective's bad and total events (hidden), for a widget's expressions.
  slo_metric_lines = {
    for slo, objective in local.slo_objectives : slo => [
      for id, metric in merge({ for i, bad in objective.bad : "bad${i}" => bad }, { total = objective.total }) :
      concat([var.log_metric_namespace, metric.name], flatten([for name, value in metric.dimensions : [name, value]]), [{ id = id, visible = false }])
    ]
  }

  slo_good_percent = { for slo, ratio in local.slo_bad_ratio : slo => "100 * (1 - ${ratio})" }

  slo_dashboard_widgets = concat(
    [
      for slo, objective in local.slo_objectives : {
        title      = "${objective.title}: % of ${objective.good} (target ${objective.target_percent} %)"
        metrics    = concat([[{ id = "sli", expression = local.slo_good_percent[slo], label = "${objective.title} %" }]], local.slo_metric_lines[slo])
        stat       = "Sum"
        properties = { period = 300, annotations = { horizontal = [{ label = "target", value = objective.target_percent }] } }
      }
    ],
    [
      for slo, objective in local.slo_objectives : {
        title = "${objective.title}: last ${var.slo.window_days} days"
        metrics = concat(
          [
            [{ id = "sli", expression = local.slo_good_percent[slo], label = "${objective.title} % (target ${objective.target_percent})" }],
            [{ id = "budget", expression = "100 - (100 - sli) * 100 / (100 - ${objective.target_percent})", label = "error budget left %" }],
          ],
          local.slo_metric_lines[slo],
        )
        stat       = "Sum"
        properties = { view = "singleValue", start = "-P${var.slo.window_days}D", setPeriodToTimeRange = true }
      }
    ],
    # What visitors get at the edge, beside the SLIs measured at the frontend: CloudFront answers
    # 502/504 itself when no frontend pod does, which no access line records (README).
    # CloudFront publishes these, free, in us-east-1 only.
    [
      {
        title = "Edge: CloudFront requests and 5xx %"
        metrics = [
          ["AWS/CloudFront", "5xxErrorRate", "DistributionId", aws_cloudfront_distribution.main.id, "Region", "Global", { stat = "Average", label = "5xx %" }],
          ["AWS/CloudFront", "Requests", "DistributionId", aws_cloudfront_distribution.main.id, "Region", "Global", { stat = "Sum", label = "requests", yAxis = "right" }],
        ]
        stat       = "Sum"
        properties = { region = "us-east-1", period = 300 }
      }
    ],
  )
}
