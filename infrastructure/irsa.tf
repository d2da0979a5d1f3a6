# IAM roles for service accounts: each role can be assumed only by one Kubernetes service
# account of this cluster, through the cluster's OIDC issuer.

locals {
  oidc_issuer = replace(aws_eks_cluster.main.identity[0].oidc[0].issuer, "https://", "")

  irsa_service_accounts = {
    vpc-cni            = { namespace = "kube-system", name = "aws-node" }
    cloudwatch-agent   = { namespace = "amazon-cloudwatch", name = "cloudwatch-agent" }
    cluster-autoscaler = { namespace = "kube-system", name = "cluster-autoscaler" }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_service_accounts

  name        = "${local.global_name}-${each.key}"
  description = "Assumed by service account ${each.value.namespace}/${each.value.name} of ${var.cluster_name}"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.eks.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_issuer}:sub" = "system:serviceaccount:${each.value.namespace}:${each.value.name}"
          "${local.oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "vpc_cni" {
  role       = aws_iam_role.irsa["vpc-cni"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKS_CNI_Policy"
}

# Container Insights: the add-on's agent and Fluent Bit both run as cloudwatch-agent. IRSA rather
# than the node role (only these pods get the rights) and rather than Pod Identity (no extra
# agent add-on; the same mechanism as the other roles here).
resource "aws_iam_role_policy_attachment" "cloudwatch_agent" {
  role       = aws_iam_role.irsa["cloudwatch-agent"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/CloudWatchAgentServerPolicy"
}

# Traces: the agent forwards the spans it receives on its Application Signals port (bird-chart's
# tracing.otlpEndpoint) to X-Ray with PutTraceSegments. The EKS user guide pairs this policy with
# the one above for the add-on; CloudWatchAgentServerPolicy carries the same X-Ray writes today,
# and this one keeps them should that policy change.
resource "aws_iam_role_policy_attachment" "cloudwatch_agent_xray" {
  role       = aws_iam_role.irsa["cloudwatch-agent"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"
}

# Cluster autoscaler: it may resize and terminate only Auto Scaling groups tagged as owned by
# this cluster (EKS adds the tags to its managed node groups); reads are not resource-scoped in AWS.
resource "aws_iam_role_policy" "cluster_autoscaler" {
  name = "scale-this-clusters-node-groups"
  role = aws_iam_role.irsa["cluster-autoscaler"].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ResizeOnlyThisClustersNodeGroups"
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
        Resource = "*"
        Condition = {
          StringEquals = {
            "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"             = "true"
          }
        }
      },
      {
        Sid    = "DiscoverNodeGroups"
        Effect = "Allow"
        Action = [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:GetInstanceTypesFromInstanceRequirements",
        ]
        Resource = "*"
      },
      {
        Sid      = "ReadThisClustersNodeGroups"
        Effect   = "Allow"
        Action   = "eks:DescribeNodegroup"
        Resource = "arn:${local.partition}:eks:${var.aws_region}:${local.account_id}:nodegroup/${var.cluster_name}/*"
      },
    ]
  })
}
