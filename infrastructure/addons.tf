# EKS-managed add-ons. No addon_version: EKS installs the default version for the cluster's
# Kubernetes version, and `terraform apply` after a version bump upgrades them with it.

resource "aws_eks_addon" "vpc_cni" {
  cluster_name                = aws_eks_cluster.main.name
  addon_name                  = "vpc-cni"
  service_account_role_arn    = aws_iam_role.irsa["vpc-cni"].arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  # EKS enforces Kubernetes NetworkPolicies (bird-chart ships them) only with this switched on.
  configuration_values = jsonencode({ enableNetworkPolicy = "true" })

  depends_on = [aws_iam_role_policy_attachment.vpc_cni]
}

resource "aws_eks_addon" "kube_proxy" {
  cluster_name                = aws_eks_cluster.main.name
  addon_name                  = "kube-proxy"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
}

# The add-ons below run pods, which need nodes to become healthy.

resource "aws_eks_addon" "coredns" {
  cluster_name                = aws_eks_cluster.main.name
  addon_name                  = "coredns"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [aws_eks_node_group.nodes]
}

# Resource metrics API for the HorizontalPodAutoscalers of bird-chart (EKS community add-on).
resource "aws_eks_addon" "metrics_server" {
  cluster_name                = aws_eks_cluster.main.name
  addon_name                  = "metrics-server"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [aws_eks_node_group.nodes]
}

# Container Insights: publishes the ContainerInsights metrics the alarms watch and ships
# container stdout to /aws/containerinsights/<cluster>/application through Fluent Bit. Its
# default configuration also turns on Application Signals, whose OTLP receiver (port 4316 of
# Service amazon-cloudwatch/cloudwatch-agent) takes the services' spans when bird-chart's tracing
# is on, and sends them to X-Ray: nothing to configure here for traces.
resource "aws_eks_addon" "cloudwatch_observability" {
  cluster_name                = aws_eks_cluster.main.name
  addon_name                  = "amazon-cloudwatch-observability"
  service_account_role_arn    = aws_iam_role.irsa["cloudwatch-agent"].arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [
    aws_eks_node_group.nodes,
    aws_iam_role_policy_attachment.cloudwatch_agent,
    aws_iam_role_policy_attachment.cloudwatch_agent_xray,
    aws_cloudwatch_log_group.container_insights, # keep our retention and key, not the agent's defaults
  ]
}
