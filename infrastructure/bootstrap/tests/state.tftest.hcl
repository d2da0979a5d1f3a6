# The remote-state bucket and lock table.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/terraform"
      user_id    = "AIDAEXAMPLEUSERID"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::bird-api-tfstate-123456789012-us-east-1"
    }
  }
}

run "state_bucket_and_lock_table_are_hardened" {
  command = plan

  assert {
    condition     = aws_s3_bucket.state.bucket == "bird-api-tfstate-123456789012-us-east-1"
    error_message = "The state bucket must be named per account and region."
  }
  assert {
    condition     = one(aws_s3_bucket_versioning.state.versioning_configuration).status == "Enabled"
    error_message = "State must be versioned."
  }
  assert {
    condition = (
      one(one(aws_s3_bucket_server_side_encryption_configuration.state.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.state.rule).apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.state.arn &&
      aws_kms_key.state.enable_key_rotation
    )
    error_message = "State must be encrypted with the rotating state key."
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.state.block_public_acls && aws_s3_bucket_public_access_block.state.block_public_policy &&
      aws_s3_bucket_public_access_block.state.ignore_public_acls && aws_s3_bucket_public_access_block.state.restrict_public_buckets
    )
    error_message = "All public access to the state must be blocked."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.state.policy).Statement[0].Effect == "Deny" && jsondecode(aws_s3_bucket_policy.state.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    error_message = "The state bucket must refuse plain HTTP."
  }
  assert {
    condition = (
      aws_dynamodb_table.lock.name == "bird-api-tfstate-lock" && aws_dynamodb_table.lock.hash_key == "LockID" &&
      one(aws_dynamodb_table.lock.attribute).type == "S" && aws_dynamodb_table.lock.billing_mode == "PAY_PER_REQUEST" &&
      aws_dynamodb_table.lock.point_in_time_recovery[0].enabled && aws_dynamodb_table.lock.server_side_encryption[0].enabled
    )
    error_message = "The lock table must key on LockID (what the S3 backend writes), on demand, encrypted, recoverable."
  }
  assert {
    condition     = strcontains(output.backend_config, "key            = \"bird-api/dev/us-east-1/terraform.tfstate\"") && strcontains(output.backend_config, "dynamodb_table = \"bird-api-tfstate-lock\"")
    error_message = "backend_config must give a per-region state key and the lock table."
  }
}

run "bootstrap_variables_are_validated" {
  command = plan

  variables {
    aws_region                      = "useast1"
    project_name                    = "-bird"
    noncurrent_state_retention_days = 1
  }

  expect_failures = [var.aws_region, var.project_name, var.noncurrent_state_retention_days]
}
