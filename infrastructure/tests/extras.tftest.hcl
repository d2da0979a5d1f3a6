# The switches of the extras (spot capacity, custom domain, Slack, deploys from GitHub, a second
# region), each off by default and tested off and on.

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

run "every_extra_is_off_by_default" {
  command = plan

  assert {
    condition     = toset(keys(aws_eks_node_group.nodes)) == toset(["on-demand"]) && toset(keys(aws_autoscaling_attachment.frontend)) == toset(["on-demand"])
    error_message = "No spot capacity by default."
  }
  assert {
    condition = (
      length(aws_acm_certificate.site) == 0 && length(aws_route53_record.site) == 0 && length(aws_route53_record.certificate_validation) == 0 &&
      length(aws_cloudfront_distribution.main.aliases) == 0 && aws_cloudfront_distribution.main.viewer_certificate[0].cloudfront_default_certificate
    )
    error_message = "No domain, certificate or records by default: the CloudFront default certificate."
  }
  assert {
    condition     = length(aws_chatbot_slack_channel_configuration.alerts) == 0 && length(aws_iam_role.chatbot) == 0
    error_message = "No Slack delivery by default."
  }
  assert {
    condition = (
      length(aws_iam_openid_connect_provider.github) == 0 && length(aws_iam_role.github_deploy) == 0 &&
      length(aws_eks_access_entry.github_deploy) == 0 && output.github_deploy_role_arn == null
    )
    error_message = "No GitHub deploy role by default."
  }
  assert {
    condition = (
      length(aws_cloudfront_distribution.main.origin) == 1 && length(aws_cloudfront_distribution.main.origin_group) == 0 &&
      aws_cloudfront_distribution.main.default_cache_behavior[0].target_origin_id == "frontend-nlb-us-east-1" &&
      one(aws_cloudfront_distribution.main.origin).connection_attempts == 3 && one(aws_cloudfront_distribution.main.origin).connection_timeout == 10
    )
    error_message = "One origin and no failover group by default, with CloudFront's default connection settings."
  }
}

run "spot_capacity_beside_on_demand" {
  command = plan

  variables {
    spot_enabled      = true
    node_min_size     = 1
    node_desired_size = 1
    node_max_size     = 1
    spot_max_size     = 4
  }

  assert {
    condition = (
      aws_eks_node_group.nodes["spot"].capacity_type == "SPOT" && aws_eks_node_group.nodes["spot"].node_group_name_prefix == "bird-api-cluster-spot-" &&
      aws_eks_node_group.nodes["spot"].instance_types == tolist(["t3.medium", "t3a.medium", "t2.medium"]) &&
      aws_eks_node_group.nodes["spot"].scaling_config[0].min_size == 1 && aws_eks_node_group.nodes["spot"].scaling_config[0].max_size == 4 &&
      aws_eks_node_group.nodes["spot"].ami_type == aws_eks_node_group.nodes["on-demand"].ami_type
    )
    error_message = "The spot group must run several same-size types within its bounds, on the same AMI type."
  }
  assert {
    condition     = aws_eks_node_group.nodes["on-demand"].capacity_type == "ON_DEMAND" && aws_eks_node_group.nodes["on-demand"].scaling_config[0].max_size == 1
    error_message = "The on-demand group stays, sized by its own variables."
  }
  assert {
    condition     = aws_autoscaling_attachment.frontend["spot"].lb_target_group_arn == "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bird-api-frontend-30080/0123456789abcdef"
    error_message = "Spot nodes must register in the frontend target group too."
  }
}

run "custom_domain_with_tls" {
  command = plan

  variables {
    domain_name     = "birds.example.com"
    route53_zone_id = "Z0123456789ABCDEFGHIJ"
  }

  assert {
    condition     = aws_acm_certificate.site[0].domain_name == "birds.example.com" && aws_acm_certificate.site[0].validation_method == "DNS"
    error_message = "An ACM certificate for the domain, validated through DNS."
  }
  assert {
    condition = (
      aws_route53_record.certificate_validation["birds.example.com"].name == "_3c4f9a1e2b7d.birds.example.com." &&
      aws_route53_record.certificate_validation["birds.example.com"].type == "CNAME" &&
      aws_route53_record.certificate_validation["birds.example.com"].zone_id == "Z0123456789ABCDEFGHIJ"
    )
    error_message = "The validation record must go into the given zone."
  }
  assert {
    condition = alltrue([for type in ["A", "AAAA"] :
      aws_route53_record.site[type].name == "birds.example.com" &&
      aws_route53_record.site[type].alias[0].name == "d111111abcdef8.cloudfront.net" &&
      aws_route53_record.site[type].alias[0].zone_id == "Z2FDTNDATAQYW2"
    ])
    error_message = "IPv4 and IPv6 alias records must point at the distribution."
  }
  assert {
    condition = (
      aws_cloudfront_distribution.main.aliases == toset(["birds.example.com"]) &&
      !aws_cloudfront_distribution.main.viewer_certificate[0].cloudfront_default_certificate &&
      aws_cloudfront_distribution.main.viewer_certificate[0].acm_certificate_arn == "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789" &&
      aws_cloudfront_distribution.main.viewer_certificate[0].ssl_support_method == "sni-only" &&
      aws_cloudfront_distribution.main.viewer_certificate[0].minimum_protocol_version == "TLSv1.2_2021"
    )
    error_message = "CloudFront must serve the domain with the validated certificate, SNI and TLS 1.2 at least."
  }
  assert {
    condition     = output.app_url == "https://birds.example.com"
    error_message = "app_url must use the domain."
  }
}

run "alarms_to_slack" {
  command = plan

  variables {
    slack_team_id    = "T07EA123LEP"
    slack_channel_id = "C07EZ1ABC23"
  }

  assert {
    condition = (
      aws_chatbot_slack_channel_configuration.alerts[0].slack_team_id == "T07EA123LEP" &&
      aws_chatbot_slack_channel_configuration.alerts[0].slack_channel_id == "C07EZ1ABC23" &&
      aws_chatbot_slack_channel_configuration.alerts[0].sns_topic_arns == toset(["arn:aws:sns:us-east-1:123456789012:bird-api-cluster-alerts"])
    )
    error_message = "The Slack channel must receive the alarm topic."
  }
  assert {
    condition     = jsondecode(aws_iam_role.chatbot[0].assume_role_policy).Statement[0].Principal.Service == "chatbot.amazonaws.com"
    error_message = "Only AWS Chatbot may assume its role."
  }
  assert {
    condition     = aws_chatbot_slack_channel_configuration.alerts[0].guardrail_policy_arns == tolist(["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"])
    error_message = "The channel must be capped at read-only CloudWatch."
  }
  assert {
    condition     = aws_sns_topic_subscription.alert_email.endpoint == "ops@example.com"
    error_message = "Slack comes beside the e-mail, not instead."
  }
}

run "deploys_from_github_main_and_tags_only" {
  command = plan

  variables {
    github_repository = "birdstack/bird-stack"
  }

  override_resource {
    target          = aws_iam_openid_connect_provider.github[0]
    override_during = plan
    values          = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
  }

  assert {
    condition     = aws_iam_openid_connect_provider.github[0].url == "https://token.actions.githubusercontent.com" && aws_iam_openid_connect_provider.github[0].client_id_list == toset(["sts.amazonaws.com"])
    error_message = "The GitHub Actions OIDC provider must be created for STS."
  }
  assert {
    condition = jsondecode(aws_iam_role.github_deploy[0].assume_role_policy).Statement[0].Condition == {
      StringEquals = { "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com" }
      StringLike = { "token.actions.githubusercontent.com:sub" = [
        "repo:birdstack/bird-stack:ref:refs/heads/main",
        "repo:birdstack/bird-stack:ref:refs/tags/v*",
      ] }
    }
    error_message = "Only the repository's main branch and v* tags may assume the deploy role."
  }
  assert {
    condition     = jsondecode(aws_iam_role.github_deploy[0].assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    error_message = "The trust must go through the GitHub OIDC provider."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.github_deploy[0].policy).Statement[0].Action == "eks:DescribeCluster" && jsondecode(aws_iam_role_policy.github_deploy[0].policy).Statement[0].Resource == "arn:aws:eks:us-east-1:123456789012:cluster/bird-api-cluster"
    error_message = "In AWS the role may only describe this cluster."
  }
  assert {
    condition = (
      aws_eks_access_policy_association.github_deploy[0].policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy" &&
      aws_eks_access_policy_association.github_deploy[0].access_scope[0].type == "namespace" &&
      aws_eks_access_policy_association.github_deploy[0].access_scope[0].namespaces == toset(["bird"])
    )
    error_message = "In Kubernetes the role may only edit the application's namespace."
  }
  assert {
    condition     = output.github_deploy_role_arn == "arn:aws:iam::123456789012:role/bird-api-cluster-us-east-1-mocked"
    error_message = "The role's ARN must be an output for the workflow's configuration."
  }
}

run "deploy_role_reuses_an_existing_oidc_provider" {
  command = plan

  variables {
    github_repository           = "birdstack/bird-stack"
    create_github_oidc_provider = false
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0 && length(aws_iam_role.github_deploy) == 1
    error_message = "With create_github_oidc_provider = false only the role is created."
  }
  assert {
    condition     = jsondecode(aws_iam_role.github_deploy[0].assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    error_message = "The role must trust the account's existing GitHub provider."
  }
}

run "cloudfront_fails_over_to_a_second_region" {
  command = plan

  variables {
    secondary_origin_domain_name = "bird-api-frontend-fedcba9876543210.elb.us-west-2.amazonaws.com"
  }

  assert {
    condition = (
      [for o in aws_cloudfront_distribution.main.origin : o.domain_name if o.origin_id == "frontend-nlb-secondary"] == ["bird-api-frontend-fedcba9876543210.elb.us-west-2.amazonaws.com"] &&
      one([for o in aws_cloudfront_distribution.main.origin : o.custom_origin_config[0].origin_protocol_policy if o.origin_id == "frontend-nlb-secondary"]) == "http-only"
    )
    error_message = "The secondary NLB must be an origin."
  }
  assert {
    condition = (
      one(aws_cloudfront_distribution.main.origin_group).origin_id == "frontend-failover" &&
      one(aws_cloudfront_distribution.main.origin_group).failover_criteria[0].status_codes == toset([500, 502, 503, 504]) &&
      [for m in one(aws_cloudfront_distribution.main.origin_group).member : m.origin_id] == ["frontend-nlb-us-east-1", "frontend-nlb-secondary"]
    )
    error_message = "The origin group must try the primary, then the secondary on 500, 502, 503 and 504."
  }
  assert {
    condition = (
      aws_cloudfront_distribution.main.default_cache_behavior[0].target_origin_id == "frontend-failover" &&
      alltrue([for b in aws_cloudfront_distribution.main.ordered_cache_behavior : b.target_origin_id == "frontend-failover"])
    )
    error_message = "Every behaviour must target the origin group."
  }
  assert {
    condition     = one([for o in aws_cloudfront_distribution.main.origin : o.connection_attempts * o.connection_timeout if o.origin_id == "frontend-nlb-us-east-1"]) == 10
    error_message = "A dead primary must cost at most 10 s of connection attempts before failover."
  }
}

run "a_second_region_gets_its_own_names" {
  command = plan

  variables {
    aws_region                  = "us-west-2"
    create_github_oidc_provider = false
    github_repository           = "birdstack/bird-stack"
    dashboard_name              = "bird-api-overview-us-west-2"
  }

  override_data {
    target = data.aws_availability_zones.available
    values = { names = ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"] }
  }

  assert {
    condition     = aws_subnet.private[*].availability_zone == ["us-west-2a", "us-west-2b"]
    error_message = "Subnets must follow the region's zones."
  }
  assert {
    condition = (
      aws_iam_role.irsa["cluster-autoscaler"].name == "bird-api-cluster-us-west-2-cluster-autoscaler" &&
      aws_iam_role.github_deploy[0].name == "bird-api-cluster-us-west-2-github-deploy" &&
      aws_cloudfront_cache_policy.pages.name == "bird-api-cluster-us-west-2-pages" &&
      aws_s3_bucket.access_logs.bucket == "bird-api-dev-logs-123456789012-us-west-2" &&
      aws_cloudwatch_dashboard.overview.dashboard_name == "bird-api-overview-us-west-2"
    )
    error_message = "Account-wide names must carry the region, so both regions fit in one account."
  }
  assert {
    condition     = strcontains(output.kubeconfig_command, "--region us-west-2") && strcontains(output.helm_cluster_autoscaler_command, "awsRegion=us-west-2")
    error_message = "The printed commands must target the second region."
  }
}

run "extras_variables_are_validated" {
  command = plan

  variables {
    spot_instance_types          = ["t3.medium"]
    spot_min_size                = -1
    domain_name                  = "birds.example.com"
    slack_team_id                = "T07EA123LEP"
    chatbot_region               = "us-east-1"
    github_repository            = "https://github.com/birdstack/bird-stack"
    secondary_origin_domain_name = "http://elb"
  }

  expect_failures = [
    var.spot_instance_types,
    var.spot_min_size,
    var.route53_zone_id,
    var.slack_channel_id,
    var.chatbot_region,
    var.github_repository,
    var.secondary_origin_domain_name,
  ]
}

run "extras_formats_are_validated" {
  command = plan

  variables {
    domain_name   = "Birds Example"
    slack_team_id = "slack"
    spot_max_size = 0
  }

  expect_failures = [var.domain_name, var.slack_team_id, var.spot_max_size]
}

run "spot_desired_size_within_bounds" {
  command = plan

  variables {
    spot_desired_size = 5
  }

  expect_failures = [var.spot_desired_size]
}
