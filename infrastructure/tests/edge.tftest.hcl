# nlb.tf, cloudfront.tf, access_logs.tf: the path from viewers to the frontend NodePort.

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

override_resource {
  target          = aws_security_group.nlb
  override_during = plan
  values          = { id = "sg-0frontendnlb" }
}

override_resource {
  target          = aws_cloudfront_cache_policy.pages
  override_during = plan
  values          = { id = "pages-cache-policy-id" }
}

override_resource {
  target          = aws_cloudfront_origin_request_policy.api
  override_during = plan
  values          = { id = "api-origin-request-policy-id" }
}

override_resource {
  target          = aws_cloudfront_function.not_found
  override_during = plan
  values          = { arn = "arn:aws:cloudfront::123456789012:function/bird-api-cluster-us-east-1-not-found" }
}

run "nlb_cloudfront_and_logs_bucket_follow_the_spec" {
  command = plan

  assert {
    condition     = aws_lb.frontend.load_balancer_type == "network" && !aws_lb.frontend.internal && aws_lb.frontend.security_groups == toset(["sg-0frontendnlb"])
    error_message = "The frontend NLB must be an internet-facing network load balancer with its own security group."
  }
  assert {
    condition     = aws_lb_listener.frontend_http.port == 80 && aws_lb_listener.frontend_http.protocol == "TCP"
    error_message = "The NLB must listen on TCP 80."
  }
  assert {
    condition     = aws_lb_target_group.frontend.port == 30080 && aws_lb_target_group.frontend.protocol == "TCP" && aws_lb_target_group.frontend.target_type == "instance"
    error_message = "The target group must send TCP to NodePort 30080 on the instances."
  }
  assert {
    condition = (
      aws_lb_target_group.frontend.health_check[0].protocol == "HTTP" &&
      aws_lb_target_group.frontend.health_check[0].path == "/healthz" &&
      aws_lb_target_group.frontend.health_check[0].port == "10256"
    )
    error_message = "Health checks must GET kube-proxy's /healthz on 10256, which fails on a node being drained or deleted."
  }
  assert {
    condition     = aws_lb_target_group.frontend.connection_termination
    error_message = "A deregistered node's connections must be closed at the end of the deregistration delay."
  }
  assert {
    condition = (
      aws_vpc_security_group_egress_rule.nlb_to_kube_proxy_health.from_port == 10256 &&
      aws_vpc_security_group_egress_rule.nlb_to_kube_proxy_health.to_port == 10256 &&
      aws_vpc_security_group_ingress_rule.nodes_kube_proxy_health_from_nlb.referenced_security_group_id == "sg-0frontendnlb" &&
      aws_vpc_security_group_ingress_rule.nodes_kube_proxy_health_from_nlb.from_port == 10256 &&
      aws_vpc_security_group_ingress_rule.nodes_kube_proxy_health_from_nlb.to_port == 10256
    )
    error_message = "The NLB's health checks must be let through to kube-proxy's port on the nodes."
  }
  assert {
    condition     = aws_autoscaling_attachment.frontend["on-demand"].autoscaling_group_name == "eks-bird-api-cluster-on-demand-20261127-0a1b2c3d"
    error_message = "The node group's Auto Scaling group must be attached to the target group."
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.nlb_http_from_cloudfront.prefix_list_id == "pl-3b927c52" &&
      aws_vpc_security_group_ingress_rule.nlb_http_from_cloudfront.from_port == 80 &&
      aws_vpc_security_group_ingress_rule.nlb_http_from_cloudfront.cidr_ipv4 == null
    )
    error_message = "Only CloudFront's origin-facing prefix list may reach the NLB."
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.nodes_from_nlb.referenced_security_group_id == "sg-0frontendnlb" &&
      aws_vpc_security_group_ingress_rule.nodes_from_nlb.from_port == 30080 &&
      aws_vpc_security_group_ingress_rule.nodes_from_nlb.to_port == 30080 &&
      aws_vpc_security_group_egress_rule.nlb_to_frontend_node_port.from_port == 30080
    )
    error_message = "Nodes must admit the NLB on the NodePort only."
  }
  assert {
    condition     = !aws_lb.frontend.enable_deletion_protection
    error_message = "Dev load balancers must be destroyable."
  }

  assert {
    condition     = aws_cloudfront_cache_policy.pages.default_ttl == 300 && aws_cloudfront_cache_policy.pages.max_ttl == 300 && aws_cloudfront_cache_policy.pages.min_ttl == 0
    error_message = "Pages and assets must be cached for 5 minutes."
  }
  assert {
    condition = (
      aws_cloudfront_distribution.main.default_cache_behavior[0].cache_policy_id == "pages-cache-policy-id" &&
      aws_cloudfront_distribution.main.default_cache_behavior[0].viewer_protocol_policy == "redirect-to-https"
    )
    error_message = "The default behaviour must use the 5-minute policy and redirect HTTP to HTTPS."
  }
  assert {
    condition     = [for b in aws_cloudfront_distribution.main.ordered_cache_behavior : b.path_pattern] == ["/api/*", "/metrics"]
    error_message = "There must be exactly two extra behaviours, for /api/* and /metrics."
  }
  assert {
    condition = (
      aws_cloudfront_distribution.main.ordered_cache_behavior[0].cache_policy_id == "4135ea2d-6df8-44a3-9df4-4b5a84be39ad" &&
      aws_cloudfront_distribution.main.ordered_cache_behavior[0].origin_request_policy_id == "api-origin-request-policy-id" &&
      aws_cloudfront_distribution.main.ordered_cache_behavior[0].viewer_protocol_policy == "redirect-to-https"
    )
    error_message = "/api/* must use the managed CachingDisabled policy, forward through the API origin request policy and redirect to HTTPS."
  }
  assert {
    condition = (
      length(aws_cloudfront_distribution.main.ordered_cache_behavior[1].function_association) == 1 &&
      one(aws_cloudfront_distribution.main.ordered_cache_behavior[1].function_association).event_type == "viewer-request" &&
      one(aws_cloudfront_distribution.main.ordered_cache_behavior[1].function_association).function_arn == aws_cloudfront_function.not_found.arn &&
      length(aws_cloudfront_distribution.main.ordered_cache_behavior[0].function_association) == 0 &&
      length(aws_cloudfront_distribution.main.default_cache_behavior[0].function_association) == 0
    )
    error_message = "Only /metrics must run the not-found function, on viewer requests (before the cache and the origin)."
  }
  assert {
    condition = (
      aws_cloudfront_function.not_found.runtime == "cloudfront-js-2.0" &&
      aws_cloudfront_function.not_found.publish &&
      strcontains(aws_cloudfront_function.not_found.code, "statusCode: 404")
    )
    error_message = "The not-found function must be published and answer 404 itself."
  }
  assert {
    condition = (
      aws_cloudfront_origin_request_policy.api.cookies_config[0].cookie_behavior == "none" &&
      aws_cloudfront_origin_request_policy.api.headers_config[0].headers[0].items == toset(["x-request-id"]) &&
      aws_cloudfront_cache_policy.pages.parameters_in_cache_key_and_forwarded_to_origin[0].headers_config[0].header_behavior == "none" &&
      aws_cloudfront_cache_policy.pages.parameters_in_cache_key_and_forwarded_to_origin[0].cookies_config[0].cookie_behavior == "none"
    )
    error_message = "Only the query string and x-request-id may reach the origin; no cookies."
  }
  assert {
    condition = (
      one(aws_cloudfront_distribution.main.origin).domain_name == "bird-api-frontend-0123456789abcdef.elb.us-east-1.amazonaws.com" &&
      one(aws_cloudfront_distribution.main.origin).custom_origin_config[0].origin_protocol_policy == "http-only" &&
      one(aws_cloudfront_distribution.main.origin).custom_origin_config[0].http_port == 80
    )
    error_message = "The origin must be the NLB over HTTP port 80."
  }
  assert {
    condition = (
      aws_cloudfront_distribution.main.logging_config[0].bucket == "bird-api-dev-logs-123456789012-us-east-1.s3.amazonaws.com" &&
      aws_cloudfront_distribution.main.logging_config[0].prefix == "cloudfront/"
    )
    error_message = "CloudFront must log to the access-logs bucket."
  }
  assert {
    condition     = aws_cloudfront_distribution.main.viewer_certificate[0].cloudfront_default_certificate && aws_cloudfront_distribution.main.price_class == "PriceClass_100"
    error_message = "Without a domain, the default certificate and the cheapest price class."
  }
  assert {
    condition     = output.app_url == "https://d111111abcdef8.cloudfront.net"
    error_message = "app_url must be the distribution's HTTPS URL."
  }

  assert {
    condition     = aws_s3_bucket.access_logs.bucket == "bird-api-dev-logs-123456789012-us-east-1" && aws_s3_bucket.access_logs.force_destroy
    error_message = "The dev logs bucket must be named per account and region and be destroyable."
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.access_logs.block_public_acls && aws_s3_bucket_public_access_block.access_logs.block_public_policy &&
      aws_s3_bucket_public_access_block.access_logs.ignore_public_acls && aws_s3_bucket_public_access_block.access_logs.restrict_public_buckets
    )
    error_message = "All public access must be blocked."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.access_logs.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "The logs bucket must be encrypted."
  }
  assert {
    condition = (
      one(aws_s3_bucket_lifecycle_configuration.access_logs.rule[0].transition).days == 90 &&
      one(aws_s3_bucket_lifecycle_configuration.access_logs.rule[0].transition).storage_class == "GLACIER" &&
      aws_s3_bucket_lifecycle_configuration.access_logs.rule[0].expiration[0].days == 730
    )
    error_message = "Logs must move to Glacier after 90 days and expire after two years."
  }
  assert {
    condition     = one(aws_s3_bucket_ownership_controls.access_logs.rule).object_ownership == "BucketOwnerPreferred"
    error_message = "CloudFront standard logging needs ACLs enabled (BucketOwnerPreferred)."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.access_logs.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" && jsondecode(aws_s3_bucket_policy.access_logs.policy).Statement[0].Effect == "Deny"
    error_message = "The bucket must refuse plain HTTP."
  }
}

run "prod_protects_the_edge" {
  command = plan

  variables {
    environment = "prod"
  }

  assert {
    condition     = aws_lb.frontend.enable_deletion_protection && !aws_s3_bucket.access_logs.force_destroy
    error_message = "In prod the NLB is deletion-protected and the logs bucket is not force-destroyed."
  }
}

run "node_port_and_cache_settings_are_validated" {
  command = plan

  variables {
    frontend_node_port     = 8080
    cloudfront_price_class = "PriceClass_Cheap"
    page_cache_ttl_seconds = -1
    environment            = "qa"
    project_name           = "Bird_API"
  }

  expect_failures = [
    var.frontend_node_port,
    var.cloudfront_price_class,
    var.page_cache_ttl_seconds,
    var.environment,
    var.project_name,
  ]
}

# CloudFront refuses a cache policy whose TTLs are all 0 while it compresses or keys on the query string.
run "a_page_cache_ttl_of_zero_is_refused" {
  command = plan

  variables {
    page_cache_ttl_seconds = 0
  }

  expect_failures = [var.page_cache_ttl_seconds]
}
