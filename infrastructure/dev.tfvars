# Development: small and cheap. Use with `terraform apply -var-file=dev.tfvars`; the e-mail and
# the API endpoint CIDRs come from terraform.tfvars (see terraform.tfvars.example).
environment        = "dev"
single_nat_gateway = true
node_min_size      = 2
node_desired_size  = 2
node_max_size      = 3
log_retention_days = 7
