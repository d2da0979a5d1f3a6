provider "aws" {
  region = var.aws_region

  # Every resource gets these tags, including the ones AWS creates for us through
  # EKS (node group instances and volumes inherit them via the launch template).
  default_tags {
    tags = local.tags
  }
}
