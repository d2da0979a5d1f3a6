# Optional Slack delivery of the alarms through AWS Chatbot, beside the e-mail. The Slack
# workspace must be authorised once in the AWS Chatbot console (that OAuth step has no API).

locals {
  slack_enabled = var.slack_team_id != "" && var.slack_channel_id != ""
}

resource "aws_iam_role" "chatbot" {
  count = local.slack_enabled ? 1 : 0

  name        = "${local.global_name}-chatbot"
  description = "Assumed by AWS Chatbot to render ${var.cluster_name} alarms in Slack"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "chatbot.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Enough to show an alarm's graph and details in the channel, nothing more.
resource "aws_iam_role_policy" "chatbot" {
  count = local.slack_enabled ? 1 : 0

  name = "read-alarms"
  role = aws_iam_role.chatbot[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadThisClustersAlarms"
        Effect   = "Allow"
        Action   = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"]
        Resource = "arn:${local.partition}:cloudwatch:${var.aws_region}:${local.account_id}:alarm:${var.cluster_name}-*"
      },
      {
        # Metric reads have no resource-level permissions in IAM.
        Sid      = "DrawAlarmGraphs"
        Effect   = "Allow"
        Action   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricWidgetImage", "cloudwatch:ListMetrics"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_chatbot_slack_channel_configuration" "alerts" {
  count    = local.slack_enabled ? 1 : 0
  provider = aws.chatbot

  configuration_name = "${local.global_name}-alerts"
  slack_team_id      = var.slack_team_id
  slack_channel_id   = var.slack_channel_id
  iam_role_arn       = aws_iam_role.chatbot[0].arn
  sns_topic_arns     = [aws_sns_topic.alerts.arn]
  logging_level      = "ERROR"

  # Whatever a channel member runs through Chatbot is capped at read-only CloudWatch.
  guardrail_policy_arns = ["arn:${local.partition}:iam::aws:policy/CloudWatchReadOnlyAccess"]
}
