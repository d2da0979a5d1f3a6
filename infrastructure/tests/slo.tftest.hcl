# slo.tf: the indicators' metric filters, the burn-rate alarms whose thresholds follow from the
# targets, the composite alarms that notify, and the dashboard's SLO row.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

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

run "three_objectives_alerted_on_fast_and_slow_burns" {
  command = plan

  # 2 % of a 30-day budget in 1 h is 14.4 times the sustainable rate, 5 % in 6 h is 6 times;
  # the budgets are 0.5 %, 1 % and 1 %.
  assert {
    condition = alltrue([for key, expected in {
      "availability-fast-1h"  = 0.072, "availability-fast-5m" = 0.072, "availability-slow-6h" = 0.03, "availability-slow-30m" = 0.03,
      "latency-fast-1h"       = 0.144, "latency-fast-5m" = 0.144, "latency-slow-6h" = 0.06, "latency-slow-30m" = 0.06,
      "photo-quality-fast-1h" = 0.144, "photo-quality-fast-5m" = 0.144, "photo-quality-slow-6h" = 0.06, "photo-quality-slow-30m" = 0.06,
    } : abs(aws_cloudwatch_metric_alarm.slo_window[key].threshold - expected) < 1e-12]) && length(aws_cloudwatch_metric_alarm.slo_window) == 12
    error_message = "Each SLO needs four window alarms whose thresholds are the burn rate (14.4 fast, 6 slow) times the error budget."
  }
  assert {
    condition = alltrue([for key, alarm in aws_cloudwatch_metric_alarm.slo_window :
      alarm.alarm_name == "bird-api-cluster-slo-${key}" && alarm.comparison_operator == "GreaterThanThreshold" &&
      alarm.evaluation_periods == 1 && alarm.treat_missing_data == "notBreaching" && alarm.alarm_actions == null && alarm.ok_actions == null &&
      alltrue([for q in alarm.metric_query : q.metric[0].period == { "1h" = 3600, "5m" = 300, "6h" = 21600, "30m" = 1800 }[reverse(split("-", key))[0]] && q.metric[0].stat == "Sum" && q.metric[0].namespace == "BirdApi" if length(q.metric) > 0])
    ])
    error_message = "Window alarms sum their metrics over their own window, count a quiet window as no burn and notify nobody themselves."
  }
  assert {
    condition = (
      { for q in aws_cloudwatch_metric_alarm.slo_window["availability-fast-1h"].metric_query : q.id => length(q.metric) > 0 ? q.metric[0].metric_name : q.expression } == {
        bad0 = "PageAndApi5xxCount", total = "PageAndApiRequestCount", error_ratio = "(FILL(bad0, 0)) / total"
      } &&
      { for q in aws_cloudwatch_metric_alarm.slo_window["latency-slow-6h"].metric_query : q.id => length(q.metric) > 0 ? q.metric[0].metric_name : q.expression } == {
        bad0 = "ApiBirdSlowCount", total = "ApiBirdRequestCount", error_ratio = "(FILL(bad0, 0)) / total"
      } &&
      { for q in aws_cloudwatch_metric_alarm.slo_window["photo-quality-fast-5m"].metric_query : q.id => { name = q.metric[0].metric_name, dimensions = q.metric[0].dimensions } if length(q.metric) > 0 } == {
        bad0  = { name = "PhotoFallbackCount", dimensions = tomap({ Photo = "default" }) }
        bad1  = { name = "PhotoFallbackCount", dimensions = tomap({ Photo = "disguised" }) }
        total = { name = "RequestCount", dimensions = tomap({ Service = "bird" }) }
      } &&
      [for q in aws_cloudwatch_metric_alarm.slo_window["photo-quality-fast-5m"].metric_query : q.expression if q.id == "error_ratio"] == ["(FILL(bad0, 0) + FILL(bad1, 0)) / total"] &&
      alltrue([for alarm in aws_cloudwatch_metric_alarm.slo_window : [for q in alarm.metric_query : q.return_data if q.id == "error_ratio"] == [true]])
    )
    error_message = "Each window alarm returns its bad-event ratio: 5xx, slow or fallback answers over their requests."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.slo_window["availability-fast-1h"].alarm_description == "Availability SLO, fast burn, 1 h window: page and /api/bird requests answered 5xx above 7.2 % of all (14.4 x the 0.5 % budget). Notifies through bird-api-cluster-slo-availability-fast-burn. Runbook: infrastructure/README.md#slo-availability"
    error_message = "A window alarm's description names its SLO, burn, threshold, composite alarm and runbook section."
  }

  assert {
    condition = { for key, alarm in aws_cloudwatch_composite_alarm.slo_burn : key => alarm.alarm_rule } == {
      "availability-fast"  = "ALARM(\"bird-api-cluster-slo-availability-fast-1h\") AND ALARM(\"bird-api-cluster-slo-availability-fast-5m\")"
      "availability-slow"  = "ALARM(\"bird-api-cluster-slo-availability-slow-6h\") AND ALARM(\"bird-api-cluster-slo-availability-slow-30m\")"
      "latency-fast"       = "ALARM(\"bird-api-cluster-slo-latency-fast-1h\") AND ALARM(\"bird-api-cluster-slo-latency-fast-5m\")"
      "latency-slow"       = "ALARM(\"bird-api-cluster-slo-latency-slow-6h\") AND ALARM(\"bird-api-cluster-slo-latency-slow-30m\")"
      "photo-quality-fast" = "ALARM(\"bird-api-cluster-slo-photo-quality-fast-1h\") AND ALARM(\"bird-api-cluster-slo-photo-quality-fast-5m\")"
      "photo-quality-slow" = "ALARM(\"bird-api-cluster-slo-photo-quality-slow-6h\") AND ALARM(\"bird-api-cluster-slo-photo-quality-slow-30m\")"
    }
    error_message = "Each burn fires when its long and its short window both do."
  }
  assert {
    condition = alltrue([for key, alarm in aws_cloudwatch_composite_alarm.slo_burn :
      alarm.alarm_name == "bird-api-cluster-slo-${key}-burn" && alarm.alarm_actions == toset([aws_sns_topic.alerts.arn]) && alarm.ok_actions == toset([aws_sns_topic.alerts.arn])
    ])
    error_message = "The composite alarms notify the alert topic (and with it Slack), on ALARM and on OK."
  }
  assert {
    condition = (
      aws_cloudwatch_composite_alarm.slo_burn["availability-fast"].alarm_description == "Availability SLO (99.5 % of page and /api/bird requests answered without a 5xx, over 30 days) burning fast: 14.4 x the sustainable rate, 2 % of the error budget in 1 h, over 1 h and 5 min alike. Runbook: infrastructure/README.md#slo-availability" &&
      aws_cloudwatch_composite_alarm.slo_burn["photo-quality-slow"].alarm_description == "Photo quality SLO (99 % of birds answered with a real photo, over 30 days) burning slow: 6 x the sustainable rate, 5 % of the error budget in 6 h, over 6 h and 30 min alike. Runbook: infrastructure/README.md#slo-photo-quality"
    )
    error_message = "A composite alarm's description names the SLO, the burn rate and its runbook section."
  }

  assert {
    condition = { for key, f in aws_cloudwatch_log_metric_filter.slo : key => f.pattern } == {
      page-and-api-requests = "{ ($.log_processed.message = \"request\") && ($.log_processed.service = \"frontend\") && ($.log_processed.path = \"/\" || $.log_processed.path = \"/api/bird\") }"
      page-and-api-5xx      = "{ ($.log_processed.message = \"request\") && ($.log_processed.service = \"frontend\") && ($.log_processed.path = \"/\" || $.log_processed.path = \"/api/bird\") && ($.log_processed.status_code >= 500) }"
      api-bird-requests     = "{ ($.log_processed.message = \"request\") && ($.log_processed.service = \"frontend\") && ($.log_processed.path = \"/api/bird\") }"
      api-bird-slow         = "{ ($.log_processed.message = \"request\") && ($.log_processed.service = \"frontend\") && ($.log_processed.path = \"/api/bird\") && ($.log_processed.response_time > 500) }"
      photo-fallbacks       = "{ ($.log_processed.service = \"bird\") && ($.log_processed.photo = \"default\" || $.log_processed.photo = \"disguised\") }"
    }
    error_message = "The indicators come from the frontend's access lines for the page and /api/bird, and bird's lines for answers without a real photo."
  }
  assert {
    condition = alltrue([for key, f in aws_cloudwatch_log_metric_filter.slo :
      f.log_group_name == "/aws/containerinsights/bird-api-cluster/application" && f.name == "bird-api-cluster-slo-${key}" &&
      f.metric_transformation[0].namespace == "BirdApi" && f.metric_transformation[0].value == "1" &&
      f.metric_transformation[0].dimensions == (key == "photo-fallbacks" ? tomap({ Photo = "$.log_processed.photo" }) : null)
    ])
    error_message = "Each indicator counts one per line in the application log group, the fallbacks by photo."
  }

  assert {
    condition = [for w in slice(jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets, 0, 6) : w.properties.title] == [
      "Availability: % of page and /api/bird requests answered without a 5xx (target 99.5 %)",
      "Latency: % of /api/bird requests answered within 500 ms (target 99 %)",
      "Photo quality: % of birds answered with a real photo (target 99 %)",
      "Availability: last 30 days",
      "Latency: last 30 days",
      "Photo quality: last 30 days",
    ]
    error_message = "The dashboard opens with the SLO row: each SLI, then each over the window."
  }
  assert {
    condition = alltrue([for i, w in slice(jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets, 0, 3) :
      w.properties.annotations.horizontal[0].value == [99.5, 99, 99][i] && w.properties.metrics[0][0].expression == (i == 2 ? "100 * (1 - (FILL(bad0, 0) + FILL(bad1, 0)) / total)" : "100 * (1 - (FILL(bad0, 0)) / total)")
    ])
    error_message = "Each SLI is charted against its target."
  }
  assert {
    condition = alltrue([for i, w in slice(jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets, 3, 6) :
      w.properties.view == "singleValue" && w.properties.start == "-P30D" && w.properties.setPeriodToTimeRange &&
      w.properties.metrics[1][0].expression == "100 - (100 - sli) * 100 / (100 - ${[99.5, 99, 99][i]})"
    ])
    error_message = "The error budget left is computed over the whole window."
  }
  assert {
    condition = (
      jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets[6].properties.region == "us-east-1" &&
      [for line in jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets[6].properties.metrics : slice(line, 0, 6)] == [
        ["AWS/CloudFront", "5xxErrorRate", "DistributionId", aws_cloudfront_distribution.main.id, "Region", "Global"],
        ["AWS/CloudFront", "Requests", "DistributionId", aws_cloudfront_distribution.main.id, "Region", "Global"],
      ]
    )
    error_message = "The SLO row ends with the edge's view, CloudFront's own metrics from us-east-1."
  }
  assert {
    condition     = strcontains(aws_cloudwatch_query_definition.saved["photo-fallbacks"].query_string, "ispresent(log_processed.photo)")
    error_message = "A saved query lists the answers without a real photo, by photo and reason."
  }
}

run "thresholds_follow_from_the_targets_and_the_window" {
  command = plan

  variables {
    slo = {
      window_days   = 28
      availability  = { target_percent = 99.9 }
      latency       = { target_percent = 99.5, threshold_ms = 1000 }
      photo_quality = { target_percent = 98 }
    }
  }

  # Over 28 days the burn rates are 2 % x 672 h / 1 h = 13.44 and 5 % x 672 h / 6 h = 5.6.
  assert {
    condition = alltrue([for key, expected in {
      "availability-fast-1h"  = 0.01344, "availability-slow-6h" = 0.0056,
      "latency-fast-5m"       = 0.0672, "latency-slow-30m" = 0.028,
      "photo-quality-fast-1h" = 0.2688, "photo-quality-slow-6h" = 0.112,
    } : abs(aws_cloudwatch_metric_alarm.slo_window[key].threshold - expected) < 1e-12])
    error_message = "Thresholds must follow from the targets and the window."
  }
  assert {
    condition     = endswith(aws_cloudwatch_log_metric_filter.slo["api-bird-slow"].pattern, "($.log_processed.response_time > 1000) }")
    error_message = "The latency threshold must reach the metric filter."
  }
  assert {
    condition     = strcontains(aws_cloudwatch_composite_alarm.slo_burn["availability-fast"].alarm_description, "(99.9 % of page and /api/bird requests answered without a 5xx, over 28 days) burning fast: 13.44 x the sustainable rate")
    error_message = "The descriptions must follow the objectives."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets[3].properties.start == "-P28D"
    error_message = "The budget left is over the window."
  }
}

run "photo_quality_can_be_left_out_for_a_keyless_install" {
  command = plan

  variables {
    slo = { photo_quality = { enabled = false } }
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.slo_window) == 8 && length(aws_cloudwatch_composite_alarm.slo_burn) == 4 &&
      !contains(keys(aws_cloudwatch_log_metric_filter.slo), "photo-fallbacks") &&
      length([for w in jsondecode(aws_cloudwatch_dashboard.overview.dashboard_body).widgets : w if startswith(w.properties.title, "Photo quality")]) == 0
    )
    error_message = "Without the photo-quality SLO, nothing of it is created."
  }
}

run "the_window_is_validated" {
  command = plan

  variables {
    slo = { window_days = 5 }
  }

  expect_failures = [var.slo]
}

run "the_targets_are_validated" {
  command = plan

  variables {
    slo = { photo_quality = { target_percent = 100 } }
  }

  expect_failures = [var.slo]
}

run "the_latency_threshold_is_a_bucket_boundary" {
  command = plan

  variables {
    slo = { latency = { threshold_ms = 300 } }
  }

  expect_failures = [var.slo]
}

run "a_fast_burn_that_could_never_fire_is_refused" {
  command = plan

  # 14.4 x a 7 % budget is more than every request failing.
  variables {
    slo = { availability = { target_percent = 93 } }
  }

  expect_failures = [aws_cloudwatch_metric_alarm.slo_window]
}
