# Optional deploys from GitHub Actions without stored AWS keys: the workflow exchanges its OIDC
# token for a role that only this repository's main branch and v* tags can assume, and that may
# only read this cluster's endpoint and edit the application's namespace.

locals {
  github_deploy        = var.github_repository != ""
  github_oidc_host     = "token.actions.githubusercontent.com"
  github_oidc_provider = local.github_deploy && var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.github_oidc_host}"
}

# IAM verifies GitHub's issuer against its trusted root CAs, so no thumbprint is pinned.
resource "aws_iam_openid_connect_provider" "github" {
  count = local.github_deploy && var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.github_oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_iam_role" "github_deploy" {
  count = local.github_deploy ? 1 : 0

  name                 = "${local.global_name}-github-deploy"
  description          = "helm deploys of ${var.github_repository} (main and v* tags) to ${var.cluster_name}"
  max_session_duration = 3600

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.github_oidc_provider }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = { "${local.github_oidc_host}:aud" = "sts.amazonaws.com" }
        # Jobs that name a GitHub environment get a different subject and are refused too.
        StringLike = {
          "${local.github_oidc_host}:sub" = [
            "repo:${var.github_repository}:ref:refs/heads/main",
            "repo:${var.github_repository}:ref:refs/tags/v*",
          ]
        }
      }
    }]
  })
}

# `aws eks update-kubeconfig` needs to read the cluster; Kubernetes rights come from the access entry.
resource "aws_iam_role_policy" "github_deploy" {
  count = local.github_deploy ? 1 : 0

  name = "describe-this-cluster"
  role = aws_iam_role.github_deploy[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "eks:DescribeCluster"
      Resource = aws_eks_cluster.main.arn
    }]
  })
}

resource "aws_eks_access_entry" "github_deploy" {
  count = local.github_deploy ? 1 : 0

  cluster_name  = aws_eks_cluster.main.name
  principal_arn = aws_iam_role.github_deploy[0].arn
  type          = "STANDARD"
}

# Kubernetes "edit" in the application's namespace only: Deployments, Services, HPAs, PDBs,
# NetworkPolicies, Secrets (Helm's release records), no cluster-wide rights.
resource "aws_eks_access_policy_association" "github_deploy" {
  count = local.github_deploy ? 1 : 0

  cluster_name  = aws_eks_cluster.main.name
  principal_arn = aws_iam_role.github_deploy[0].arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

  access_scope {
    type       = "namespace"
    namespaces = [var.app_namespace]
  }

  depends_on = [aws_eks_access_entry.github_deploy]
}
