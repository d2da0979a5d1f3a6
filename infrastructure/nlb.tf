# Terraform owns the public entry point: an NLB in the public subnets that sends TCP 80 to the
# frontend's fixed NodePort on every node of the node group. CloudFront is its only client.

data "aws_ec2_managed_prefix_list" "cloudfront_origin_facing" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "nlb" {
  name        = "${var.cluster_name}-frontend-nlb"
  description = "Frontend NLB: HTTP from CloudFront only, to the frontend NodePort"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "nlb_http_from_cloudfront" {
  security_group_id = aws_security_group.nlb.id
  description       = "HTTP from CloudFront origin-facing servers"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront_origin_facing.id

  #checkov:skip=CKV_AWS_260:The source is CloudFront's origin-facing prefix list, not 0.0.0.0/0 (checkov reads a missing CIDR as "anywhere").
}

locals {
  # Managed nodes carry the security group EKS creates for the cluster.
  nodes_security_group_id = aws_eks_cluster.main.vpc_config[0].cluster_security_group_id

  # kube-proxy's health endpoint on every node: it fails while the node is being deleted
  # (drain, scale-down), so the NLB stops sending there before the instance goes.
  kube_proxy_health_port = 10256
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_frontend_node_port" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "Traffic to the frontend NodePort"
  ip_protocol                  = "tcp"
  from_port                    = var.frontend_node_port
  to_port                      = var.frontend_node_port
  referenced_security_group_id = local.nodes_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_kube_proxy_health" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "Health checks to kube-proxy"
  ip_protocol                  = "tcp"
  from_port                    = local.kube_proxy_health_port
  to_port                      = local.kube_proxy_health_port
  referenced_security_group_id = local.nodes_security_group_id
}

# Referencing the NLB's group admits its traffic even though the NLB preserves the client
# (CloudFront) address.
resource "aws_vpc_security_group_ingress_rule" "nodes_from_nlb" {
  security_group_id            = local.nodes_security_group_id
  description                  = "Frontend NodePort from the frontend NLB"
  ip_protocol                  = "tcp"
  from_port                    = var.frontend_node_port
  to_port                      = var.frontend_node_port
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_kube_proxy_health_from_nlb" {
  security_group_id            = local.nodes_security_group_id
  description                  = "kube-proxy health checks from the frontend NLB"
  ip_protocol                  = "tcp"
  from_port                    = local.kube_proxy_health_port
  to_port                      = local.kube_proxy_health_port
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_lb" "frontend" {
  name               = "${var.project_name}-frontend"
  load_balancer_type = "network"
  internal           = false
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.nlb.id]

  # With two nodes in two zones, each zone's NLB node must reach both.
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = local.is_prod

  # AWS refuses an internet-facing NLB in a VPC without an internet gateway, and nothing else
  # here orders the two.
  depends_on = [aws_route_table_association.public]

  #checkov:skip=CKV_AWS_91:NLB access logs exist only for TLS listeners; CloudFront logs every request to S3.
  #checkov:skip=CKV2_AWS_20:HTTP-to-HTTPS redirects are for ALBs; this NLB forwards TCP and CloudFront redirects viewers to HTTPS.
  #checkov:skip=CKV_AWS_150:Deletion protection is on in prod (enable_deletion_protection = local.is_prod); dev must be destroyable in one command.
}

resource "aws_lb_target_group" "frontend" {
  name        = "${var.project_name}-frontend-${var.frontend_node_port}"
  target_type = "instance"
  protocol    = "TCP"
  port        = var.frontend_node_port
  vpc_id      = aws_vpc.main.id

  # Pods drain in at most 20 s (CONTRACT); a node leaving the group gets a little more, and then
  # its remaining connections are closed rather than left to die with the instance.
  deregistration_delay   = 30
  connection_termination = true

  # With externalTrafficPolicy Cluster any healthy node serves the NodePort, so the check asks
  # whether the node keeps forwarding, not whether one frontend pod answers.
  health_check {
    protocol            = "HTTP"
    port                = tostring(local.kube_proxy_health_port)
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  # The name carries the port, so a new port means a new target group: it must exist before the
  # listener moves to it, and AWS refuses to delete the old one while the listener uses it.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "frontend_http" {
  load_balancer_arn = aws_lb.frontend.arn
  protocol          = "TCP"
  port              = 80

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.frontend.arn
  }

  #checkov:skip=CKV2_AWS_74:Plain TCP between CloudFront and the NLB inside AWS's network; viewers get HTTPS from CloudFront (README: adding TLS to the origin).
}

# Every instance the node groups launch (or the autoscaler adds) registers in the target group.
resource "aws_autoscaling_attachment" "frontend" {
  for_each = aws_eks_node_group.nodes

  autoscaling_group_name = each.value.resources[0].autoscaling_groups[0].name
  lb_target_group_arn    = aws_lb_target_group.frontend.arn

  #checkov:skip=CKV2_AWS_15:EKS owns these Auto Scaling groups' health checks; the target health reflects the frontend pods behind the NodePort, not the node, so ELB health checks would replace healthy nodes.
}
