# CloudFront in front of the NLB: HTTPS for viewers, pages and assets cached for
# page_cache_ttl_seconds, /api/* never cached, /metrics answered 404 at the edge, standard logs
# to the access-logs bucket.

locals {
  primary_origin_id   = "frontend-nlb-${var.aws_region}"
  secondary_origin_id = "frontend-nlb-secondary"
  failover_group_id   = "frontend-failover"
  origin_failover     = var.secondary_origin_domain_name != ""

  # With a second region, behaviours target the origin group instead of the primary NLB.
  behaviour_target = local.origin_failover ? local.failover_group_id : local.primary_origin_id

  # A dead primary costs connection_attempts x connection_timeout before CloudFront asks the
  # secondary; with a failover target, fail fast (2 x 5 s instead of 3 x 10 s).
  origin_connection_attempts = local.origin_failover ? 2 : 3
  origin_connection_timeout  = local.origin_failover ? 5 : 10

  # The primary NLB and, for failover, the second region's: a copy of this stack applied there
  # (README: second region), at CloudFront's default connection settings (null).
  origins = merge(
    {
      (local.primary_origin_id) = {
        domain_name         = aws_lb.frontend.dns_name
        connection_attempts = local.origin_connection_attempts
        connection_timeout  = local.origin_connection_timeout
      }
    },
    local.origin_failover ? {
      (local.secondary_origin_id) = {
        domain_name         = var.secondary_origin_domain_name
        connection_attempts = null
        connection_timeout  = null
      }
    } : {}
  )

  # Answers of the primary that send a request to the secondary instead.
  failover_status_codes = [500, 502, 503, 504]

  # AWS managed cache policy "Managed-CachingDisabled" (the same ID in every account).
  caching_disabled_policy_id = "4135ea2d-6df8-44a3-9df4-4b5a84be39ad"

  # The policies below, as the behaviours use them.
  pages_cache_policy_id        = aws_cloudfront_cache_policy.pages.id
  api_origin_request_policy_id = aws_cloudfront_origin_request_policy.api.id
  security_headers_policy_id   = aws_cloudfront_response_headers_policy.security.id
}

resource "aws_cloudfront_cache_policy" "pages" {
  name        = "${local.global_name}-pages"
  comment     = "Pages and assets of the Bird frontend"
  min_ttl     = 0
  default_ttl = var.page_cache_ttl_seconds
  max_ttl     = var.page_cache_ttl_seconds

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    # The frontend sets no cookies and varies on no header; only the query string selects content.
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "all"
    }
  }
}

# What /api/* needs at the origin besides the path: the query string and the caller's request
# id (the services propagate x-request-id). No cookies, no other headers.
resource "aws_cloudfront_origin_request_policy" "api" {
  name    = "${local.global_name}-api"
  comment = "Bird API calls: query string and x-request-id only"

  cookies_config {
    cookie_behavior = "none"
  }
  headers_config {
    header_behavior = "whitelist"
    headers {
      items = ["x-request-id"]
    }
  }
  query_strings_config {
    query_string_behavior = "all"
  }
}

# Security headers for every answer; the application's own values win where it sets them.
resource "aws_cloudfront_response_headers_policy" "security" {
  name    = "${local.global_name}-security-headers"
  comment = "Security headers of the Bird frontend"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = false
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = false
    }
  }
}

# /metrics is for Prometheus inside the cluster; viewers get 404 at the edge and the request
# never reaches the origin. The probes stay public: they say no more than "up".
resource "aws_cloudfront_function" "not_found" {
  name    = "${local.global_name}-not-found"
  runtime = "cloudfront-js-2.0"
  comment = "Answers 404 for paths that are not for viewers"
  publish = true
  code    = file("${path.module}/functions/not-found.js")
}

resource "aws_cloudfront_distribution" "main" {
  enabled         = true
  comment         = "${var.project_name} ${var.environment} frontend"
  is_ipv6_enabled = true
  http_version    = "http2and3"
  price_class     = var.cloudfront_price_class
  aliases         = local.custom_domain ? [var.domain_name] : []

  # The NLBs listen on TCP 80 only, so CloudFront talks HTTP to them (README: adding TLS).
  dynamic "origin" {
    for_each = local.origins
    content {
      origin_id           = origin.key
      domain_name         = origin.value.domain_name
      connection_attempts = origin.value.connection_attempts
      connection_timeout  = origin.value.connection_timeout

      custom_origin_config {
        http_port              = 80
        https_port             = 443
        origin_protocol_policy = "http-only"
        origin_ssl_protocols   = ["TLSv1.2"]
        origin_read_timeout    = 30
      }
    }
  }

  # Connection errors and timeouts fail over too, without being listed.
  dynamic "origin_group" {
    for_each = local.origin_failover ? [local.failover_group_id] : []
    content {
      origin_id = origin_group.value

      failover_criteria {
        status_codes = local.failover_status_codes
      }
      member {
        origin_id = local.primary_origin_id
      }
      member {
        origin_id = local.secondary_origin_id
      }
    }
  }

  default_cache_behavior {
    target_origin_id           = local.behaviour_target
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.pages_cache_policy_id
    response_headers_policy_id = local.security_headers_policy_id
  }

  ordered_cache_behavior {
    path_pattern               = "/api/*"
    target_origin_id           = local.behaviour_target
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_disabled_policy_id
    origin_request_policy_id   = local.api_origin_request_policy_id
    response_headers_policy_id = local.security_headers_policy_id
  }

  ordered_cache_behavior {
    path_pattern               = "/metrics"
    target_origin_id           = local.behaviour_target
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = local.caching_disabled_policy_id
    response_headers_policy_id = local.security_headers_policy_id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.not_found.arn
    }
  }

  logging_config {
    bucket          = aws_s3_bucket.access_logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  # Without a domain, *.cloudfront.net and its certificate (whose minimum protocol is fixed).
  viewer_certificate {
    cloudfront_default_certificate = !local.custom_domain
    acm_certificate_arn            = local.custom_domain ? aws_acm_certificate_validation.site[0].certificate_arn : null
    ssl_support_method             = local.custom_domain ? "sni-only" : null
    minimum_protocol_version       = local.custom_domain ? "TLSv1.2_2021" : "TLSv1"
  }

  depends_on = [aws_s3_bucket_ownership_controls.access_logs]

  #checkov:skip=CKV_AWS_68:AWS WAF costs at least 5 USD a month plus rules; the app serves public, read-only data. Attach a web ACL via web_acl_id when needed.
  #checkov:skip=CKV2_AWS_47:Same as CKV_AWS_68: no WAF by default, and no Java anywhere in the stack.
  #checkov:skip=CKV_AWS_305:The origin is an application that serves / itself; a default root object is for S3 origins.
  #checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate fixes the minimum protocol; with domain_name set it is TLSv1.2_2021.
  #checkov:skip=CKV2_AWS_42:A custom certificate needs a domain, which is optional (domain_name).
  #checkov:skip=CKV2_AWS_46:The origin is the NLB (a custom origin); origin access control applies to S3 origins.
  #checkov:skip=CKV_AWS_310:There is one origin by default; secondary_origin_domain_name adds the failover origin group.
  #checkov:skip=CKV_AWS_374:A public site for viewers anywhere; restricting countries would refuse legitimate visitors (price_class already limits where it is served from).
}
