resource "aws_iam_role" "node" {
  name = "${local.global_name}-node"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# The CNI's permissions live on its own IRSA role (irsa.tf), not here: pods on a node do not
# inherit the right to manage network interfaces.
resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

resource "aws_launch_template" "node" {
  name_prefix            = "${var.cluster_name}-node-"
  description            = "Nodes of ${var.cluster_name}: encrypted gp3 root volume, IMDSv2 only"
  update_default_version = true

  block_device_mappings {
    device_name = "/dev/xvda" # root device of the Amazon Linux 2023 EKS AMI
    ebs {
      volume_size           = var.node_disk_size_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
    # Two hops: the Container Insights agent and Fluent Bit read instance metadata from pods.
    http_put_response_hop_limit = 2
    instance_metadata_tags      = "disabled"
  }

  # default_tags do not reach instances and volumes that the Auto Scaling group launches.
  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])
    content {
      resource_type = tag_specifications.key
      tags          = merge(local.tags, { Name = "${var.cluster_name}-node" })
    }
  }

  #checkov:skip=CKV_AWS_341:Hop limit 2 is what the amazon-cloudwatch-observability agents need to reach IMDSv2 from their pods; tokens stay required.
}

# The on-demand group always runs. Optional spot capacity beside it uses the same launch
# template and several instance types of one size: EKS spreads the group over the cheapest,
# least-interrupted spot pools and replaces a node on a rebalance recommendation (Capacity
# Rebalancing) before it is reclaimed. Each group carries the autoscaler's discovery tags, so it
# grows and shrinks either.
locals {
  node_groups = merge(
    {
      on-demand = {
        capacity_type  = "ON_DEMAND"
        instance_types = var.node_instance_types
        desired_size   = var.node_desired_size
        min_size       = var.node_min_size
        max_size       = var.node_max_size
      }
    },
    var.spot_enabled ? {
      spot = {
        capacity_type  = "SPOT"
        instance_types = var.spot_instance_types
        desired_size   = var.spot_desired_size
        min_size       = var.spot_min_size
        max_size       = var.spot_max_size
      }
    } : {}
  )
}

resource "aws_eks_node_group" "nodes" {
  for_each = local.node_groups

  cluster_name           = aws_eks_cluster.main.name
  node_group_name_prefix = "${var.cluster_name}-${each.key}-"
  node_role_arn          = aws_iam_role.node.arn
  subnet_ids             = aws_subnet.private[*].id
  version                = aws_eks_cluster.main.version

  ami_type       = "AL2023_x86_64_STANDARD"
  capacity_type  = each.value.capacity_type
  instance_types = each.value.instance_types

  launch_template {
    id      = aws_launch_template.node.id
    version = aws_launch_template.node.latest_version
  }

  scaling_config {
    desired_size = each.value.desired_size
    min_size     = each.value.min_size
    max_size     = each.value.max_size
  }

  update_config {
    max_unavailable_percentage = var.node_max_unavailable_percentage
  }

  # EKS tags the group's Auto Scaling group with k8s.io/cluster-autoscaler/enabled and
  # k8s.io/cluster-autoscaler/<cluster> = owned: the autoscaler discovers it by those tags.

  lifecycle {
    create_before_destroy = true
    # The cluster autoscaler owns the current size; Terraform only sets the bounds.
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [
    aws_iam_role_policy_attachment.node,
    aws_eks_addon.vpc_cni, # nodes become Ready only once the CNI runs
  ]
}
