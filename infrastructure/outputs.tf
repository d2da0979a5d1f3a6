output "region" {
  description = "Region of this stack."
  value       = var.aws_region
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.main.name
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server."
  value       = aws_eks_cluster.main.endpoint
}

output "kubeconfig_command" {
  description = "Adds the cluster to ~/.kube/config."
  value       = "aws eks update-kubeconfig --region ${var.aws_region} --name ${aws_eks_cluster.main.name}"
}

output "cloudfront_domain_name" {
  description = "Domain name of the CloudFront distribution."
  value       = aws_cloudfront_distribution.main.domain_name
}

output "app_url" {
  description = "Public URL of the Bird frontend."
  value       = "https://${local.custom_domain ? var.domain_name : aws_cloudfront_distribution.main.domain_name}"
}

output "nlb_dns_name" {
  description = "DNS name of the frontend NLB (reachable from CloudFront only)."
  value       = aws_lb.frontend.dns_name
}

output "frontend_target_group_arn" {
  description = "Target group of the frontend NodePort; its target health shows whether nodes answer /health."
  value       = aws_lb_target_group.frontend.arn
}

output "alerts_topic_arn" {
  description = "SNS topic of the alarms."
  value       = aws_sns_topic.alerts.arn
}

output "dashboard_url" {
  description = "The bird-api-overview CloudWatch dashboard."
  value       = "https://${var.aws_region}.console.aws.amazon.com/cloudwatch/home?region=${var.aws_region}#dashboards/dashboard/${aws_cloudwatch_dashboard.overview.dashboard_name}"
}

output "access_logs_bucket" {
  description = "S3 bucket of the CloudFront access logs (prefix cloudfront/)."
  value       = aws_s3_bucket.access_logs.bucket
}

output "github_deploy_role_arn" {
  description = "Role the deploy workflow assumes (null without github_repository)."
  value       = local.github_deploy ? aws_iam_role.github_deploy[0].arn : null
}

output "store_secret_arn" {
  description = "Secrets Manager secret holding bird-image's CACHE_URL for the ElastiCache store, from which deploy step 7 makes the Kubernetes Secret (null without store_enabled)."
  value       = local.store ? aws_secretsmanager_secret.store_url[0].arn : null
}

output "cluster_autoscaler_role_arn" {
  description = "IAM role of the cluster autoscaler's service account kube-system/cluster-autoscaler."
  value       = aws_iam_role.irsa["cluster-autoscaler"].arn
}

locals {
  cluster_autoscaler_image_tag = coalesce(var.cluster_autoscaler_image_tag, "v${var.kubernetes_version}.0")

  # Node bounds come from the node groups (min/max), which the autoscaler discovers by tag.
  # fullnameOverride: the chart would name its Deployment <release>-aws-cluster-autoscaler; the
  # runbook and the IRSA role's service account use plain cluster-autoscaler.
  helm_cluster_autoscaler = join(" \\\n  ", [
    "helm upgrade --install cluster-autoscaler cluster-autoscaler",
    "--repo https://kubernetes.github.io/autoscaler",
    "--namespace kube-system",
    "--set fullnameOverride=cluster-autoscaler",
    "--set autoDiscovery.clusterName=${aws_eks_cluster.main.name}",
    "--set awsRegion=${var.aws_region}",
    "--set image.tag=${local.cluster_autoscaler_image_tag}",
    "--set rbac.serviceAccount.name=cluster-autoscaler",
    "--set 'rbac.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=${aws_iam_role.irsa["cluster-autoscaler"].arn}'",
    "--set extraArgs.scale-down-utilization-threshold=0.5",
    "--set extraArgs.scale-down-unneeded-time=10m",
    "--set extraArgs.scale-down-delay-after-add=10m",
    "--set extraArgs.balance-similar-node-groups=true",
    "--set extraArgs.skip-nodes-with-system-pods=false",
    "--wait",
  ])

  # The published chart defaults to its release's images (by digest); a local chart is told which
  # images to run. Everything the NLB, the alarms and CI depend on is set explicitly, whatever the
  # chart's defaults. --set-string: a tag such as 1234567 or an owner of digits stays a string.
  local_chart     = can(regex("^\\.{0,2}/", var.bird_chart))
  chart_registry  = var.app_image_registry == "docker.io" ? "registry-1.docker.io" : var.app_image_registry
  published_chart = "oci://${local.chart_registry}/${var.app_image_owner}/bird-chart"
  helm_bird_chart = join(" \\\n  ", concat(
    ["helm upgrade --install bird ${var.bird_chart == "" ? local.published_chart : var.bird_chart}"],
    local.local_chart ? [] : ["--version ${var.app_image_tag}"],
    ["--namespace ${var.app_namespace} --create-namespace"],
    local.local_chart ? [
      "--set image.registry=${var.app_image_registry}",
      "--set-string image.owner=${var.app_image_owner}",
      "--set-string image.tag=${var.app_image_tag}",
    ] : [],
    [
      "--set unsplash.existingSecret=${var.unsplash_secret_name}",
      "--set services.frontend.service.type=NodePort",
      "--set services.frontend.service.nodePort=${var.frontend_node_port}",
    ],
    # The ElastiCache store instead of the chart's own Valkey: its URL from the Secret that
    # deploy step 7 makes, and the private subnets it lives in for bird-image's egress policy
    # (quoted: the shell would expand the braces).
    local.store ? [
      "--set store.type=external",
      "--set store.external.existingSecret=${var.store_secret_name}",
      "--set 'store.external.cidrs={${join(",", aws_subnet.private[*].cidr_block)}}'",
      "--set store.external.port=${local.store_port}",
    ] : [],
    # Spans to the add-on's CloudWatch agent (the chart's default endpoint), named by environment.
    var.tracing_enabled ? [
      "--set tracing.enabled=true",
      "--set tracing.samplerArg=${var.tracing_sample_ratio}",
      "--set tracing.environment=${var.environment}",
    ] : [],
    ["--wait --timeout 10m"],
  ))
}

output "helm_cluster_autoscaler_command" {
  description = "Installs the cluster autoscaler with its IRSA role (scale down below 50 % after 10 min, 10 min after a scale-up)."
  value       = local.helm_cluster_autoscaler
}

output "helm_bird_chart_command" {
  description = "Installs bird-chart (the published chart of the release, or bird_chart's local path) with the frontend on the NodePort that the NLB targets, the ElastiCache store when store_enabled, and tracing when tracing_enabled (run from infrastructure/)."
  value       = local.helm_bird_chart
}
