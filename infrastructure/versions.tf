terraform {
  # 1.9 for validations that compare variables, 1.11 for `override_during` in the tests.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: the bucket, key and lock table come from a backend file
  # written after `bootstrap/` (see backend.s3.tfbackend.example and README.md).
  backend "s3" {}
}
