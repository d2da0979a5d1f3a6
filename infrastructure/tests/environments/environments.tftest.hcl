# Run once per environment file, as the harness does:
#   terraform test -test-directory=tests/environments -var-file=dev.tfvars
#   terraform test -test-directory=tests/environments -var-file=prod.tfvars
# and checks what each file must give (SPEC: dev 2-3 nodes and 7-day logs, prod 3-10 and 30;
# the extras issue: dev mixes on-demand and spot, prod stays on demand; the store issue: prod's
# bird-image fleet shares ElastiCache, dev's the chart's own Valkey).

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

variables {
  alert_email                          = "ops@example.com"
  cluster_endpoint_public_access_cidrs = ["203.0.113.10/32"]
  app_image_owner                      = "bird-owner"
  app_image_tag                        = "1.4.2"
}

run "environment_file_gives_the_spec_sizes" {
  command = plan

  assert {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "Run this test with -var-file=dev.tfvars or -var-file=prod.tfvars."
  }
  assert {
    condition = (
      sum([for g in aws_eks_node_group.nodes : g.scaling_config[0].min_size]) == { dev = 2, prod = 3 }[var.environment] &&
      sum([for g in aws_eks_node_group.nodes : g.scaling_config[0].max_size]) == { dev = 3, prod = 10 }[var.environment]
    )
    error_message = "Nodes in all groups: dev 2 to 3, prod 3 to 10."
  }
  assert {
    condition     = toset(keys(aws_eks_node_group.nodes)) == toset({ dev = ["on-demand", "spot"], prod = ["on-demand"] }[var.environment]) && aws_eks_node_group.nodes["on-demand"].scaling_config[0].min_size >= 1
    error_message = "Dev mixes one on-demand node with spot nodes; prod stays on demand."
  }
  assert {
    condition = alltrue([
      for g in concat(values(aws_cloudwatch_log_group.container_insights), [aws_cloudwatch_log_group.control_plane]) :
      g.retention_in_days == { dev = 7, prod = 30 }[var.environment]
    ])
    error_message = "Log retention: dev 7 days, prod 30."
  }
  assert {
    condition     = length(aws_nat_gateway.main) == { dev = 1, prod = 2 }[var.environment]
    error_message = "NAT: dev shares one, prod has one per zone."
  }
  assert {
    condition     = local.tags.Environment == var.environment && aws_lb.frontend.enable_deletion_protection == (var.environment == "prod")
    error_message = "The Environment tag and prod-only protections must follow the file."
  }
  assert {
    condition = (
      length(aws_elasticache_replication_group.store) == { dev = 0, prod = 1 }[var.environment] &&
      strcontains(output.helm_bird_chart_command, "--set store.type=external") == (var.environment == "prod")
    )
    error_message = "ElastiCache serves prod's fleet, the chart's own Valkey dev's."
  }
  assert {
    condition     = alltrue([for store in aws_elasticache_replication_group.store : store.multi_az_enabled && store.num_cache_clusters == 2])
    error_message = "Prod's store keeps a replica in another zone."
  }
}
