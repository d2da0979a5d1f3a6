# The control plane. Its log group exists before the cluster so that retention and encryption
# apply from the first line (EKS would otherwise create it with "never expire").
resource "aws_cloudwatch_log_group" "control_plane" {
  name              = "/aws/eks/${var.cluster_name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn

  #checkov:skip=CKV_AWS_338:Retention follows the SPEC (7 days, 30 in prod); a year of control-plane logs is a compliance choice, not a default.
}

resource "aws_iam_role" "cluster" {
  name = "${local.global_name}-control-plane"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_iam_role_policy" "cluster_secrets_key" {
  name = "secrets-envelope-encryption"
  role = aws_iam_role.cluster.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
      Resource = aws_kms_key.eks_secrets.arn
    }]
  })
}

resource "aws_eks_cluster" "main" {
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = var.cluster_endpoint_public_access_cidrs
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.eks_secrets.arn
    }
  }

  # Access entries (IAM principals mapped to access policies) instead of the aws-auth ConfigMap;
  # whoever applies this gets cluster admin so that the helm commands of the outputs work.
  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  # Standard support only: at its end EKS upgrades the control plane instead of silently
  # billing extended support (six times the hourly price).
  upgrade_policy {
    support_type = "STANDARD"
  }

  depends_on = [
    aws_cloudwatch_log_group.control_plane,
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_secrets_key,
  ]

  #checkov:skip=CKV_AWS_39:The public endpoint serves kubectl, helm and CI; it is limited to cluster_endpoint_public_access_cidrs and needs IAM authentication.
  #checkov:skip=CKV_AWS_38:public_access_cidrs is a required variable without default; each environment restricts it (GitHub-hosted runners need it open, see README).
  #checkov:skip=CKV_AWS_339:Checkov's list of supported versions predates 1.35; the variable's validation refuses versions out of EKS standard support.
}

# IAM OIDC provider for IRSA. IAM checks the issuer's TLS certificate against its library of
# trusted root CAs, so no thumbprint is pinned here (which would only need rotating).
resource "aws_iam_openid_connect_provider" "eks" {
  url            = aws_eks_cluster.main.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
}
