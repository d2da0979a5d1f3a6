# What the rehearsal (test_infra_rehearsal.py) counts out of infrastructure/, and why: the APIs
# moto 5.2 does not implement. Copied into the scratch copy only, beside the generated backend
# and provider overrides; the mocked `terraform test` files in infrastructure/tests still plan
# every resource named here. Switches that are off by default (Slack through Chatbot, the GitHub
# deploy role's EKS access entry, the second region's origin group, the custom domain) stay off.

# logs:PutQueryDefinition answers 500.
resource "aws_cloudwatch_query_definition" "saved" {
  for_each = {}
}

# cloudwatch:PutCompositeAlarm answers 500 (not implemented). The burn-rate alarms each composite
# joins (aws_cloudwatch_metric_alarm.slo_window) are applied and read back.
resource "aws_cloudwatch_composite_alarm" "slo_burn" {
  for_each = {}
}

# eks:CreateAddon answers 404.
resource "aws_eks_addon" "vpc_cni" {
  count = 0
}

resource "aws_eks_addon" "kube_proxy" {
  count = 0
}

resource "aws_eks_addon" "coredns" {
  count = 0
}

resource "aws_eks_addon" "metrics_server" {
  count = 0
}

resource "aws_eks_addon" "cloudwatch_observability" {
  count = 0
}

# CloudFront cache, origin-request and response-headers policies answer 404. The behaviours name
# AWS's managed policies instead (CachingOptimized, AllViewerExceptHostHeader, SecurityHeadersPolicy),
# which exist in every account; moto does not look them up.
resource "aws_cloudfront_cache_policy" "pages" {
  count = 0
}

resource "aws_cloudfront_origin_request_policy" "api" {
  count = 0
}

resource "aws_cloudfront_response_headers_policy" "security" {
  count = 0
}

locals {
  pages_cache_policy_id        = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  api_origin_request_policy_id = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
  security_headers_policy_id   = "67f7725c-6f97-4210-82d7-5512b31e9d03"
}

# cloudfront:PublishFunction answers 404: the function is created, not published.
resource "aws_cloudfront_function" "not_found" {
  publish = false
}

# CreateCluster leaves the cluster security group (the one managed nodes carry) empty. The VPC's
# default security group stands in for it, so the NLB and node rules are still created.
locals {
  nodes_security_group_id = aws_default_security_group.default.id
}

# elasticache:CreateReplicationGroup names member clusters that DescribeCacheClusters then does not
# find (404), so the provider cannot read the group back, and DeleteCacheSubnetGroup answers 500.
# The store's URL names a stand-in primary endpoint; its security group, KMS key, AUTH token and
# secret are still created.
resource "aws_elasticache_replication_group" "store" {
  count = 0
}

resource "aws_elasticache_subnet_group" "store" {
  count = 0
}

locals {
  store_endpoint = "master.bird-api-cluster-store.rehearsal.cache.amazonaws.com"
}

# The node groups name Auto Scaling groups that moto never creates, so nothing can attach them.
resource "aws_autoscaling_attachment" "frontend" {
  for_each = {}
}

# moto does not return access_config.bootstrap_cluster_creator_admin_permissions and reports an
# SSH key (remote_access) on node groups that asked for none. Both force a replacement, so any
# later apply would recreate the cluster and its node groups; these fields are not compared.
# Nor does it return upgrade_policy (the provider crashes on moto's answer to updating it) or a
# node group's update_config, and eks:UpdateNodegroupVersion, which a new launch template version
# calls, answers 404.
resource "aws_eks_cluster" "main" {
  lifecycle {
    ignore_changes = [access_config, upgrade_policy]
  }
}

resource "aws_eks_node_group" "nodes" {
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size, remote_access, update_config, launch_template]
  }
}
