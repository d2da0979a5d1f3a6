# eks.tf, nodes.tf, addons.tf, irsa.tf, kms.tf: control plane, node group, add-ons, IAM roles.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

# The aliased configurations (ACM in us-east-1, the Chatbot API region) are mocked the same way.
mock_provider "aws" {
  alias           = "us_east_1"
  override_during = plan
  source          = "./tests/mocks"
}

mock_provider "aws" {
  alias           = "chatbot"
  override_during = plan
  source          = "./tests/mocks"
}

run "control_plane_nodes_add_ons_and_roles_follow_the_spec" {
  command = plan

  assert {
    condition     = aws_eks_cluster.main.name == "bird-api-cluster" && aws_eks_cluster.main.version == "1.35"
    error_message = "The cluster must be bird-api-cluster on Kubernetes 1.35 by default."
  }
  assert {
    condition     = toset(aws_eks_cluster.main.enabled_cluster_log_types) == toset(["api", "audit", "authenticator", "controllerManager", "scheduler"])
    error_message = "All five control-plane log types must be enabled."
  }
  assert {
    condition     = aws_cloudwatch_log_group.control_plane.name == "/aws/eks/bird-api-cluster/cluster" && aws_cloudwatch_log_group.control_plane.retention_in_days == 7
    error_message = "The control-plane log group must exist with the default 7-day retention."
  }
  assert {
    condition = (
      aws_eks_cluster.main.vpc_config[0].endpoint_private_access &&
      aws_eks_cluster.main.vpc_config[0].endpoint_public_access &&
      aws_eks_cluster.main.vpc_config[0].public_access_cidrs == toset(["203.0.113.10/32"])
    )
    error_message = "The endpoint must be private and public, the public side limited to the given CIDRs."
  }
  assert {
    condition     = aws_eks_cluster.main.encryption_config[0].resources == toset(["secrets"]) && aws_eks_cluster.main.encryption_config[0].provider[0].key_arn == aws_kms_key.eks_secrets.arn
    error_message = "Secrets must be envelope-encrypted with the cluster's KMS key."
  }
  assert {
    condition     = aws_kms_key.eks_secrets.enable_key_rotation && aws_kms_key.observability.enable_key_rotation
    error_message = "KMS keys must rotate."
  }
  assert {
    condition     = contains(jsondecode(aws_iam_role_policy.cluster_secrets_key.policy).Statement[0].Action, "kms:Encrypt") && jsondecode(aws_iam_role_policy.cluster_secrets_key.policy).Statement[0].Resource == aws_kms_key.eks_secrets.arn
    error_message = "The cluster role must be allowed to use the secrets key, and only that key."
  }
  assert {
    condition     = aws_eks_cluster.main.access_config[0].authentication_mode == "API" && aws_eks_cluster.main.upgrade_policy[0].support_type == "STANDARD"
    error_message = "Access entries (API mode) and standard support only."
  }
  assert {
    condition     = aws_iam_openid_connect_provider.eks.url == "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF" && aws_iam_openid_connect_provider.eks.client_id_list == toset(["sts.amazonaws.com"])
    error_message = "The OIDC provider must trust the cluster's issuer for STS."
  }

  assert {
    condition = (
      toset(keys(aws_eks_node_group.nodes)) == toset(["on-demand"]) && aws_eks_node_group.nodes["on-demand"].node_group_name_prefix == "bird-api-cluster-on-demand-" &&
      aws_eks_node_group.nodes["on-demand"].instance_types == tolist(["t2.medium"]) && aws_eks_node_group.nodes["on-demand"].capacity_type == "ON_DEMAND"
    )
    error_message = "By default one group, bird-api-cluster-on-demand-*, runs on-demand t2.medium."
  }
  assert {
    condition = (
      aws_eks_node_group.nodes["on-demand"].scaling_config[0].desired_size == 2 &&
      aws_eks_node_group.nodes["on-demand"].scaling_config[0].min_size == 2 &&
      aws_eks_node_group.nodes["on-demand"].scaling_config[0].max_size == 5
    )
    error_message = "The node group must be desired 2, min 2, max 5."
  }
  assert {
    condition     = aws_eks_node_group.nodes["on-demand"].update_config[0].max_unavailable_percentage == 33
    error_message = "At most 33 % of nodes may be unavailable during an update."
  }
  assert {
    condition     = aws_eks_node_group.nodes["on-demand"].ami_type == "AL2023_x86_64_STANDARD" && aws_eks_node_group.nodes["on-demand"].version == "1.35"
    error_message = "Nodes must run Amazon Linux 2023 with the cluster's Kubernetes version."
  }
  assert {
    condition = (
      aws_launch_template.node.block_device_mappings[0].ebs[0].volume_size == 50 &&
      aws_launch_template.node.block_device_mappings[0].ebs[0].encrypted == "true" &&
      aws_launch_template.node.block_device_mappings[0].ebs[0].volume_type == "gp3"
    )
    error_message = "Nodes must have a 50 GiB encrypted gp3 root volume."
  }
  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_tokens == "required" && aws_launch_template.node.metadata_options[0].http_put_response_hop_limit == 2
    error_message = "Nodes must require IMDSv2 tokens."
  }
  assert {
    condition     = alltrue([for ts in aws_launch_template.node.tag_specifications : ts.tags["ManagedBy"] == "Terraform" && ts.tags["Project"] == "bird-api"])
    error_message = "Instances and volumes launched by the node group must carry the project tags."
  }
  assert {
    condition     = toset([for a in aws_iam_role_policy_attachment.node : split("/", a.policy_arn)[1]]) == toset(["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"])
    error_message = "The node role must hold the worker and registry policies only (CNI rights are on the CNI's IRSA role)."
  }

  assert {
    condition = toset([
      aws_eks_addon.vpc_cni.addon_name, aws_eks_addon.kube_proxy.addon_name, aws_eks_addon.coredns.addon_name,
      aws_eks_addon.metrics_server.addon_name, aws_eks_addon.cloudwatch_observability.addon_name,
    ]) == toset(["vpc-cni", "kube-proxy", "coredns", "metrics-server", "amazon-cloudwatch-observability"])
    error_message = "The five EKS add-ons must be managed."
  }
  assert {
    condition     = jsondecode(aws_eks_addon.vpc_cni.configuration_values).enableNetworkPolicy == "true"
    error_message = "The VPC CNI must enforce the chart's NetworkPolicies."
  }
  assert {
    condition     = aws_eks_addon.cloudwatch_observability.service_account_role_arn == aws_iam_role.irsa["cloudwatch-agent"].arn && aws_iam_role_policy_attachment.cloudwatch_agent.policy_arn == "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    error_message = "The Container Insights agent must get CloudWatchAgentServerPolicy through its IRSA role."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.cloudwatch_agent_xray.role == aws_iam_role.irsa["cloudwatch-agent"].name && aws_iam_role_policy_attachment.cloudwatch_agent_xray.policy_arn == "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
    error_message = "The agent forwards the services' spans to X-Ray: its IRSA role must get AWSXrayWriteOnlyAccess."
  }
  assert {
    condition = alltrue([
      for key, sa in {
        "vpc-cni"            = "system:serviceaccount:kube-system:aws-node"
        "cloudwatch-agent"   = "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent"
        "cluster-autoscaler" = "system:serviceaccount:kube-system:cluster-autoscaler"
        } : jsondecode(aws_iam_role.irsa[key].assume_role_policy).Statement[0].Condition.StringEquals == {
        "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF:sub" = sa
        "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF:aud" = "sts.amazonaws.com"
      }
    ])
    error_message = "Each IRSA role must be assumable only by its own service account, through the cluster's issuer."
  }
  assert {
    condition     = length(aws_iam_role.irsa["vpc-cni"].name) <= 64 && aws_iam_role.irsa["cluster-autoscaler"].name == "bird-api-cluster-us-east-1-cluster-autoscaler"
    error_message = "IRSA role names must carry cluster and region and fit IAM's 64 characters."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.cluster_autoscaler.policy).Statement[0].Condition.StringEquals == {
      "aws:ResourceTag/k8s.io/cluster-autoscaler/bird-api-cluster" = "owned"
      "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"          = "true"
    }
    error_message = "Resizing must be limited to Auto Scaling groups tagged as owned by this cluster."
  }
  assert {
    condition     = toset(jsondecode(aws_iam_role_policy.cluster_autoscaler.policy).Statement[0].Action) == toset(["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"])
    error_message = "The only write actions must be SetDesiredCapacity and TerminateInstanceInAutoScalingGroup."
  }
  assert {
    condition     = alltrue([for st in jsondecode(aws_iam_role_policy.cluster_autoscaler.policy).Statement : alltrue([for a in flatten([st.Action]) : can(regex("^(autoscaling|ec2|eks):(Describe|Get)", a))]) if st.Sid != "ResizeOnlyThisClustersNodeGroups"])
    error_message = "Every other statement must be read-only."
  }
  assert {
    condition = alltrue([for arg in [
      "--set fullnameOverride=cluster-autoscaler",
      "--set autoDiscovery.clusterName=bird-api-cluster",
      "--set awsRegion=us-east-1",
      "--set image.tag=v1.35.0",
      "role-arn=arn:aws:iam::123456789012:role/",
      "--set extraArgs.scale-down-utilization-threshold=0.5",
      "--set extraArgs.scale-down-unneeded-time=10m",
      "--set extraArgs.scale-down-delay-after-add=10m",
    ] : strcontains(output.helm_cluster_autoscaler_command, arg)])
    error_message = "The cluster-autoscaler helm command must name its Deployment cluster-autoscaler (the runbook's name) and carry the cluster, region, role and the SPEC's scale-down settings."
  }
  assert {
    condition     = startswith(output.helm_cluster_autoscaler_command, "helm upgrade --install cluster-autoscaler cluster-autoscaler")
    error_message = "The command must be an idempotent helm upgrade --install."
  }
}

run "eks_variables_are_validated" {
  command = plan

  variables {
    kubernetes_version                   = "1.29"
    cluster_name                         = "bird_api"
    cluster_endpoint_public_access_cidrs = []
    node_instance_types                  = []
    node_disk_size_gb                    = 10
    node_min_size                        = 0
    node_max_unavailable_percentage      = 0
    cluster_autoscaler_image_tag         = "latest"
  }

  expect_failures = [
    var.kubernetes_version,
    var.cluster_name,
    var.cluster_endpoint_public_access_cidrs,
    var.node_instance_types,
    var.node_disk_size_gb,
    var.node_min_size,
    var.node_max_unavailable_percentage,
    var.cluster_autoscaler_image_tag,
  ]
}

run "desired_size_within_bounds" {
  command = plan

  variables {
    node_desired_size = 6
  }

  expect_failures = [var.node_desired_size]
}

run "max_size_not_below_min_size" {
  command = plan

  variables {
    node_min_size = 6
  }

  expect_failures = [var.node_max_size]
}

# The longest names built from cluster_name: "<cluster>-on-demand-" plus Terraform's 26-character
# suffix within EKS's 63 for node groups, "<cluster>-<region>-cluster-autoscaler" within IAM's 64.
run "the_longest_cluster_name_fits_every_derived_name" {
  command = plan

  variables {
    aws_region   = "ap-southeast-1"
    cluster_name = "a-cluster-name-of-26-chars"
  }

  assert {
    condition     = length(aws_iam_role.irsa["cluster-autoscaler"].name) <= 64 && length(aws_eks_node_group.nodes["on-demand"].node_group_name_prefix) <= 63 - 26
    error_message = "Role names must stay within 64 characters and node group prefixes within 37."
  }
}

run "a_cluster_name_too_long_for_the_node_group_names_is_refused" {
  command = plan

  variables {
    cluster_name = "a-cluster-name-of-27-charss"
  }

  expect_failures = [var.cluster_name]
}

# 32 characters passed before and failed at apply in ap-southeast-1 (a 66-character role name).
run "a_32_character_cluster_name_is_refused" {
  command = plan

  variables {
    aws_region   = "ap-southeast-1"
    cluster_name = "bird-api-cluster-in-singapore-01"
  }

  expect_failures = [var.cluster_name]
}
