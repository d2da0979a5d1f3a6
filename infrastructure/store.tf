# Optional store of bird-image's fleet (store_enabled, on in prod): ElastiCache for Valkey holds
# the photo cache and the hourly Unsplash allowance that every bird-image pod shares. Without it
# the chart runs its own Valkey in the cluster, which dev uses.
#
# A replication group with cluster mode disabled, not a serverless cache: serverless caches are
# cluster-mode only, where a script or transaction over keys of different hash slots fails
# (CROSSSLOT) and clients must follow the cluster protocol; a cluster-mode-disabled group behaves
# as the single Valkey bird-image is built and tested against. One cache.t4g.micro node costs
# about 9 USD a month, the 100 MB minimum of Valkey Serverless about 6: a small price for the same
# semantics in and out of the cluster.

locals {
  store      = var.store_enabled
  store_port = 6379
  # Valkey's name rules: lower-case letters, digits and hyphens.
  store_name = "${lower(var.cluster_name)}-store"
}

# Reachable from the nodes (and so from the pods, which the VPC CNI gives the nodes' security
# group) on the store's port only. No egress: the store opens no connection.
resource "aws_security_group" "store" {
  count = local.store ? 1 : 0

  name        = local.store_name
  description = "ElastiCache store of bird-image: the store port from the cluster's nodes only"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "store_from_nodes" {
  count = local.store ? 1 : 0

  security_group_id            = aws_security_group.store[0].id
  description                  = "Valkey from the cluster's nodes and pods"
  ip_protocol                  = "tcp"
  from_port                    = local.store_port
  to_port                      = local.store_port
  referenced_security_group_id = local.nodes_security_group_id
}

resource "aws_elasticache_subnet_group" "store" {
  count = local.store ? 1 : 0

  name        = local.store_name
  description = "Private subnets of ${var.cluster_name}"
  subnet_ids  = aws_subnet.private[*].id
}

# The password (an AUTH token) is made once with Secrets Manager's generator, the only one the
# aws provider has: the data source would answer a new one at every plan, so terraform_data keeps
# the first and ignores the rest. `terraform apply -replace='terraform_data.store_auth_token[0]'`
# makes a new one (README: rotating the store's password). Letters and digits only: the token goes
# into a URL unescaped.
data "aws_secretsmanager_random_password" "store_auth_token" {
  count = local.store ? 1 : 0

  password_length     = 64
  exclude_punctuation = true
}

resource "terraform_data" "store_auth_token" {
  count = local.store ? 1 : 0

  input = sensitive(data.aws_secretsmanager_random_password.store_auth_token[0].random_password)

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_elasticache_replication_group" "store" {
  count = local.store ? 1 : 0

  replication_group_id = local.store_name
  description          = "bird-image's photo cache and Unsplash allowance for ${var.cluster_name}"
  engine               = "valkey"
  engine_version       = "8.2"
  node_type            = var.store_node_type
  port                 = local.store_port

  # One shard: a primary and store_replicas replicas, which take over in another zone.
  num_cache_clusters         = 1 + var.store_replicas
  automatic_failover_enabled = var.store_replicas > 0
  multi_az_enabled           = var.store_replicas > 0

  subnet_group_name  = aws_elasticache_subnet_group.store[0].name
  security_group_ids = [aws_security_group.store[0].id]

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.store[0].arn
  auth_token                 = terraform_data.store_auth_token[0].output
  # A new token replaces the old at once: a rotation is for a token that may have leaked. The
  # pods still holding the old one answer from memory until they restart with the new Secret.
  auth_token_update_strategy = "SET"

  # A cache: losing it loses Unsplash calls, not data, so no snapshots to pay for.
  snapshot_retention_limit   = 0
  auto_minor_version_upgrade = true
  apply_immediately          = true

  #checkov:skip=CKV2_AWS_50:Multi-AZ failover is store_replicas = 1 (about 9 USD a month more); without it a failed node is replaced in minutes while bird-image answers from memory.
}

locals {
  # bird-image's CACHE_URL: TLS, the AUTH token as password, the primary endpoint (which follows a
  # failover).
  store_endpoint = one(aws_elasticache_replication_group.store[*].primary_endpoint_address)
  store_url = local.store ? format(
    "rediss://:%s@%s:%d",
    terraform_data.store_auth_token[0].output,
    local.store_endpoint,
    local.store_port,
  ) : null
}

resource "aws_secretsmanager_secret" "store_url" {
  count = local.store ? 1 : 0

  name        = "${var.cluster_name}/store-url"
  description = "bird-image's CACHE_URL for ${var.cluster_name}: the ElastiCache store with its AUTH token"
  kms_key_id  = aws_kms_key.store[0].arn

  # Made again with the store; nothing to recover once the store it opens is gone, and a new
  # apply may reuse the name at once.
  recovery_window_in_days = 0

  #checkov:skip=CKV2_AWS_57:Rotated by replacing terraform_data.store_auth_token (README), which changes ElastiCache and this secret together; a rotation Lambda could not update the Kubernetes Secret.
}

resource "aws_secretsmanager_secret_version" "store_url" {
  count = local.store ? 1 : 0

  secret_id     = aws_secretsmanager_secret.store_url[0].id
  secret_string = local.store_url
}
