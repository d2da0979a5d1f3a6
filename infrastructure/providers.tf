provider "aws" {
  region = var.aws_region

  # Every resource gets these tags, including the ones AWS creates for us through
  # EKS (node group instances and volumes inherit them via the launch template).
  default_tags {
    tags = local.tags
  }
}

# CloudFront accepts certificates from us-east-1 only, wherever the stack runs.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}

# AWS Chatbot is global, but its API is served from a few regions only.
provider "aws" {
  alias  = "chatbot"
  region = var.chatbot_region

  default_tags {
    tags = local.tags
  }
}
