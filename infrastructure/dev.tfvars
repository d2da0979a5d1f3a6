# Development: small and cheap. Use with `terraform apply -var-file=dev.tfvars`; the e-mail and
# the API endpoint CIDRs come from terraform.tfvars (see terraform.tfvars.example).
environment        = "dev"
single_nat_gateway = true
log_retention_days = 7

# One on-demand node that always stays, spot nodes for the rest: 2 to 3 nodes in all.
node_min_size     = 1
node_desired_size = 1
node_max_size     = 1
spot_enabled      = true
spot_min_size     = 1
spot_desired_size = 1
spot_max_size     = 2

# bird-image's fleet shares the chart's own Valkey, in the cluster: no ElastiCache.
store_enabled = false
