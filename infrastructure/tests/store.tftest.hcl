# store.tf: ElastiCache for Valkey as bird-image's shared store, off by default and on.

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
  target          = aws_security_group.store
  override_during = plan
  values          = { id = "sg-0store" }
}

override_resource {
  target          = aws_kms_key.store
  override_during = plan
  values          = { arn = "arn:aws:kms:us-east-1:123456789012:key/5t0re000-4e5f-6789-abcd-ef0123456789" }
}

override_resource {
  target          = aws_subnet.private[0]
  override_during = plan
  values          = { id = "subnet-0private0" }
}

override_resource {
  target          = aws_subnet.private[1]
  override_during = plan
  values          = { id = "subnet-0private1" }
}

# What terraform_data keeps of the generated password (mocks/aws.tfmock.hcl).
override_resource {
  target          = terraform_data.store_auth_token
  override_during = plan
  values          = { output = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01" }
}

run "off_by_default_the_chart_runs_its_own_valkey" {
  command = plan

  assert {
    condition = (
      length(aws_elasticache_replication_group.store) == 0 && length(aws_elasticache_subnet_group.store) == 0 &&
      length(aws_security_group.store) == 0 && length(aws_vpc_security_group_ingress_rule.store_from_nodes) == 0 &&
      length(aws_kms_key.store) == 0 && length(aws_secretsmanager_secret.store_url) == 0 &&
      length(data.aws_secretsmanager_random_password.store_auth_token) == 0 && length(terraform_data.store_auth_token) == 0
    )
    error_message = "Without store_enabled nothing of the store exists."
  }
  assert {
    condition     = output.store_secret_arn == null && !strcontains(output.helm_bird_chart_command, "store.")
    error_message = "Without store_enabled the printed command leaves the chart's own Valkey in place."
  }
}

run "on_a_private_encrypted_valkey_with_its_url_in_secrets_manager" {
  command = plan

  variables {
    store_enabled = true
  }

  assert {
    condition = (
      aws_elasticache_replication_group.store[0].engine == "valkey" &&
      tonumber(split(".", aws_elasticache_replication_group.store[0].engine_version)[0]) >= 8 &&
      aws_elasticache_replication_group.store[0].node_type == "cache.t4g.micro" &&
      aws_elasticache_replication_group.store[0].port == 6379 &&
      aws_elasticache_replication_group.store[0].replication_group_id == "bird-api-cluster-store"
    )
    error_message = "The store must be Valkey (7.2 or newer runs bird-image's scripts) on the smallest node, port 6379."
  }
  assert {
    condition = (
      aws_elasticache_replication_group.store[0].num_cache_clusters == 1 &&
      !aws_elasticache_replication_group.store[0].automatic_failover_enabled &&
      !aws_elasticache_replication_group.store[0].multi_az_enabled &&
      aws_elasticache_replication_group.store[0].snapshot_retention_limit == 0
    )
    error_message = "By default one node, no failover and no snapshots: a cache."
  }
  assert {
    condition = (
      aws_elasticache_replication_group.store[0].transit_encryption_enabled &&
      aws_elasticache_replication_group.store[0].at_rest_encryption_enabled &&
      aws_elasticache_replication_group.store[0].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/5t0re000-4e5f-6789-abcd-ef0123456789" &&
      aws_kms_key.store[0].enable_key_rotation
    )
    error_message = "TLS in transit, and at rest the store's own KMS key, rotated."
  }
  assert {
    condition = (
      aws_elasticache_replication_group.store[0].auth_token == "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01" &&
      terraform_data.store_auth_token[0].input == "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01" &&
      data.aws_secretsmanager_random_password.store_auth_token[0].exclude_punctuation &&
      data.aws_secretsmanager_random_password.store_auth_token[0].password_length >= 32
    )
    error_message = "The AUTH token is Secrets Manager's generated password, letters and digits only (it goes into a URL), kept by terraform_data."
  }
  assert {
    condition = (
      aws_elasticache_replication_group.store[0].subnet_group_name == "bird-api-cluster-store" &&
      aws_elasticache_subnet_group.store[0].subnet_ids == toset(["subnet-0private0", "subnet-0private1"]) &&
      aws_elasticache_replication_group.store[0].security_group_ids == toset(["sg-0store"])
    )
    error_message = "The store lives in the private subnets behind its own security group."
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.store_from_nodes[0].security_group_id == "sg-0store" &&
      aws_vpc_security_group_ingress_rule.store_from_nodes[0].referenced_security_group_id == aws_eks_cluster.main.vpc_config[0].cluster_security_group_id &&
      aws_vpc_security_group_ingress_rule.store_from_nodes[0].ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.store_from_nodes[0].from_port == 6379 &&
      aws_vpc_security_group_ingress_rule.store_from_nodes[0].to_port == 6379 &&
      aws_vpc_security_group_ingress_rule.store_from_nodes[0].cidr_ipv4 == null
    )
    error_message = "Only the nodes' security group (nodes and pods) may reach the store, on its port only."
  }
  assert {
    condition = (
      aws_secretsmanager_secret.store_url[0].name == "bird-api-cluster/store-url" &&
      aws_secretsmanager_secret.store_url[0].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/5t0re000-4e5f-6789-abcd-ef0123456789" &&
      aws_secretsmanager_secret_version.store_url[0].secret_string == "rediss://:0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01@master.bird-api-cluster-store.abc123.use1.cache.amazonaws.com:6379" &&
      output.store_secret_arn == "arn:aws:secretsmanager:us-east-1:123456789012:secret:bird-api-cluster/store-url-AbCdEf"
    )
    error_message = "Secrets Manager holds bird-image's CACHE_URL (TLS, the token, the primary endpoint), encrypted with the store's key."
  }
  assert {
    condition = alltrue([for arg in [
      "--set store.type=external",
      "--set store.external.existingSecret=bird-cache",
      "--set 'store.external.cidrs={10.0.101.0/24,10.0.102.0/24}'",
      "--set store.external.port=6379",
    ] : strcontains(output.helm_bird_chart_command, arg)])
    error_message = "The printed command points the chart at the store through the Secret of step 7, and opens bird-image's egress to the private subnets on its port."
  }
}

run "replicas_fail_over_across_zones" {
  command = plan

  variables {
    store_enabled     = true
    store_replicas    = 1
    store_node_type   = "cache.t4g.small"
    store_secret_name = "elasticache-url"
  }

  assert {
    condition = (
      aws_elasticache_replication_group.store[0].num_cache_clusters == 2 &&
      aws_elasticache_replication_group.store[0].automatic_failover_enabled &&
      aws_elasticache_replication_group.store[0].multi_az_enabled &&
      aws_elasticache_replication_group.store[0].node_type == "cache.t4g.small"
    )
    error_message = "A replica turns on Multi-AZ automatic failover."
  }
  assert {
    condition     = strcontains(output.helm_bird_chart_command, "--set store.external.existingSecret=elasticache-url")
    error_message = "The printed command names store_secret_name."
  }
}

run "store_variables_are_validated" {
  command = plan

  variables {
    store_node_type   = "t4g.micro"
    store_replicas    = 6
    store_secret_name = "Bird_Cache"
  }

  expect_failures = [var.store_node_type, var.store_replicas, var.store_secret_name]
}

run "store_replicas_are_whole" {
  command = plan

  variables {
    store_replicas = 0.5
  }

  expect_failures = [var.store_replicas]
}
