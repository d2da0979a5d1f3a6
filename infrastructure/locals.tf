data "aws_availability_zones" "available" {
  state = "available"

  # Local Zones and Wavelength Zones cannot host EKS control-plane interfaces.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }

  #checkov:skip=CKV_AWS_394:local.azs takes the first zones in name order, and AWS gives a new zone of an account the next letter, so a new zone never moves the subnets.
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  tags = merge(var.extra_tags, {
    Project     = var.project_name
    Environment = var.environment
    ManagedBy   = "Terraform"
  })

  azs        = slice(data.aws_availability_zones.available.names, 0, length(var.public_subnet_cidrs))
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  is_prod    = var.environment == "prod"

  # IAM roles and CloudFront policies are global to the account: their names carry the region
  # so that the same configuration can be applied to a second region of the same account.
  global_name = "${var.cluster_name}-${var.aws_region}"

  # Deployment name (the PodName dimension of Container Insights) => the `service` field of
  # its JSON log lines (CONTRACT: bird, bird-image, frontend).
  services = {
    "bird-api"       = "bird"
    "bird-image-api" = "bird-image"
    "bird-frontend"  = "frontend"
  }
}
