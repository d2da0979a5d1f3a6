# Customer-managed keys (1 USD a month each): one for Kubernetes Secrets in etcd, one for the
# alerting and logging path and, with store_enabled, one for bird-image's store. Separate keys
# keep the grants of each small and reviewable.

locals {
  account_root_statement = {
    Sid       = "AccountAdministersTheKey"
    Effect    = "Allow"
    Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
    Action    = "kms:*"
    Resource  = "*"
  }
}

resource "aws_kms_key" "eks_secrets" {
  description             = "Envelope encryption of Kubernetes Secrets in ${var.cluster_name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  # Access is granted through IAM (the cluster role's inline policy), as the account statement allows.
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.account_root_statement]
  })
}

resource "aws_kms_alias" "eks_secrets" {
  name          = "alias/${var.cluster_name}-secrets"
  target_key_id = aws_kms_key.eks_secrets.key_id
}

resource "aws_kms_key" "observability" {
  description             = "Encryption of ${var.cluster_name} log groups and its alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.account_root_statement,
      {
        Sid       = "CloudWatchLogsUsesTheKeyForThisAccountsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.aws_region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        # Alarms publish to the encrypted SNS topic as the CloudWatch service.
        Sid       = "CloudWatchAlarmsPublishToTheEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "observability" {
  name          = "alias/${var.cluster_name}-observability"
  target_key_id = aws_kms_key.observability.key_id
}

# ElastiCache (data at rest) and Secrets Manager (the store's URL) use it through grants they
# create with the applying identity's permissions, which the account statement delegates to IAM.
resource "aws_kms_key" "store" {
  count = local.store ? 1 : 0

  description             = "Encryption at rest of the ElastiCache store of ${var.cluster_name} and of its URL in Secrets Manager"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.account_root_statement]
  })
}

resource "aws_kms_alias" "store" {
  count = local.store ? 1 : 0

  name          = "alias/${var.cluster_name}-store"
  target_key_id = aws_kms_key.store[0].key_id
}
