# Realistic values for what the AWS provider would read or compute, so that plans under
# `mock_provider "aws"` carry known, well-formed values (ARNs, zones, JSON).

mock_data "aws_availability_zones" {
  defaults = {
    names    = ["us-east-1a", "us-east-1b", "us-east-1c"]
    zone_ids = ["use1-az1", "use1-az2", "use1-az4"]
  }
}

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform"
    user_id    = "AIDAEXAMPLEUSERID"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_ec2_managed_prefix_list" {
  defaults = {
    id   = "pl-3b927c52"
    name = "com.amazonaws.global.cloudfront.origin-facing"
  }
}

mock_resource "aws_eks_cluster" {
  defaults = {
    arn      = "arn:aws:eks:us-east-1:123456789012:cluster/bird-api-cluster"
    endpoint = "https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"
    identity = [{
      oidc = [{ issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF" }]
    }]
  }
}

mock_resource "aws_eks_node_group" {
  defaults = {
    resources = [{
      autoscaling_groups              = [{ name = "eks-bird-api-cluster-on-demand-20261127-0a1b2c3d" }]
      remote_access_security_group_id = ""
    }]
  }
}

mock_resource "aws_iam_openid_connect_provider" {
  defaults = {
    arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/bird-api-cluster-us-east-1-mocked"
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/bird-api-frontend/0123456789abcdef"
    dns_name = "bird-api-frontend-0123456789abcdef.elb.us-east-1.amazonaws.com"
    zone_id  = "Z26RNL4JYFTOTI"
  }
}

mock_resource "aws_cloudfront_distribution" {
  defaults = {
    domain_name    = "d111111abcdef8.cloudfront.net"
    hosted_zone_id = "Z2FDTNDATAQYW2"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    arn                = "arn:aws:s3:::bird-api-dev-logs-123456789012-us-east-1"
    bucket_domain_name = "bird-api-dev-logs-123456789012-us-east-1.s3.amazonaws.com"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    arn = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:us-east-1:123456789012:bird-api-cluster-alerts"
  }
}

mock_resource "aws_acm_certificate" {
  defaults = {
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    domain_validation_options = [{
      domain_name           = "birds.example.com"
      resource_record_name  = "_3c4f9a1e2b7d.birds.example.com."
      resource_record_type  = "CNAME"
      resource_record_value = "_8d2e6b1c4a9f.mhbtsbpdnt.acm-validations.aws."
    }]
  }
}

mock_resource "aws_acm_certificate_validation" {
  defaults = {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
  }
}

mock_resource "aws_route53_record" {
  defaults = {
    fqdn = "_3c4f9a1e2b7d.birds.example.com"
  }
}

mock_resource "aws_chatbot_slack_channel_configuration" {
  defaults = {
    chat_configuration_arn = "arn:aws:chatbot::123456789012:chat-configuration/slack-channel/bird-api-cluster-us-east-1-alerts"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bird-api-frontend-30080/0123456789abcdef"
  }
}

mock_resource "aws_elasticache_replication_group" {
  defaults = {
    primary_endpoint_address = "master.bird-api-cluster-store.abc123.use1.cache.amazonaws.com"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bird-api-cluster/store-url-AbCdEf"
  }
}

mock_data "aws_secretsmanager_random_password" {
  defaults = {
    random_password = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"
  }
}
