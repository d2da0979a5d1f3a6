# Defaults are the numbers of SPEC section 4; dev.tfvars and prod.tfvars override what differs.

# --- Identity and placement ---------------------------------------------------------------

variable "aws_region" {
  description = "Region of this stack. A second region is the same configuration applied with another region and its own state key."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region code such as us-east-1."
  }
}

variable "project_name" {
  description = "Project name, used in resource names and the Project tag."
  type        = string
  default     = "bird-api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3 to 17 lower-case letters, digits or hyphens, starting with a letter (it prefixes load balancer and target group names, which AWS caps at 32 characters)."
  }
}

variable "environment" {
  description = "Environment name, used in the Environment tag and to pick prod-only settings."
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging or prod."
  }
}

variable "extra_tags" {
  description = "Tags added to every resource besides Project, Environment and ManagedBy."
  type        = map(string)
  default     = {}
}

# --- Network ------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 CIDR block of /24 or larger."
  }
}

variable "public_subnet_cidrs" {
  description = "Public subnets, one per availability zone, in zone order (NLB and NAT gateways)."
  type        = list(string)
  default     = ["10.0.1.0/24", "10.0.2.0/24"]

  validation {
    condition     = length(var.public_subnet_cidrs) >= 2 && alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "public_subnet_cidrs must hold at least two IPv4 CIDR blocks (EKS needs two zones)."
  }
}

variable "private_subnet_cidrs" {
  description = "Private subnets, one per availability zone, in zone order (nodes and control-plane interfaces)."
  type        = list(string)
  default     = ["10.0.101.0/24", "10.0.102.0/24"]

  validation {
    condition     = length(var.private_subnet_cidrs) == length(var.public_subnet_cidrs) && alltrue([for c in var.private_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "private_subnet_cidrs must hold one IPv4 CIDR block per public subnet."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones instead of one per zone: about 33 USD a month cheaper, but a zone outage cuts the other zone's egress. For dev."
  type        = bool
  default     = false
}

# --- EKS ----------------------------------------------------------------------------------

variable "cluster_name" {
  description = "Name of the EKS cluster; it prefixes node group and IAM role names, whose AWS limits bound its length."
  type        = string
  default     = "bird-api-cluster"

  # The tightest limit on names built from it: node group prefixes "<cluster>-on-demand-", to which
  # Terraform appends 26 characters, within EKS's 63. It keeps the longest IAM role name,
  # "<cluster>-<region>-cluster-autoscaler", at 60 of IAM's 64 in the longest region names.
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,25}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and hold at most 26 letters, digits or hyphens (it prefixes node group names, which EKS caps at 63 characters with a 26-character suffix, and IAM role names with the region, which IAM caps at 64)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and nodes. 1.35 is in EKS standard support until March 2027; 1.34 leaves it on 2 December 2026."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version)) && try(tonumber(split(".", var.kubernetes_version)[1]) >= 34, false)
    error_message = "kubernetes_version must be a minor version such as 1.35, and 1.34 or newer: older versions are out of EKS standard support and cost extended-support fees."
  }
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the public Kubernetes API endpoint (kubectl, helm). Nodes use the private endpoint."
  type        = list(string)

  validation {
    condition     = length(var.cluster_endpoint_public_access_cidrs) > 0 && alltrue([for c in var.cluster_endpoint_public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "cluster_endpoint_public_access_cidrs must hold at least one IPv4 CIDR block, such as 203.0.113.10/32."
  }
}

variable "node_instance_types" {
  description = "Instance types of the on-demand node group, first is preferred."
  type        = list(string)
  default     = ["t2.medium"]

  validation {
    condition     = length(var.node_instance_types) > 0 && alltrue([for t in var.node_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "node_instance_types must list at least one EC2 instance type such as t2.medium."
  }
}

variable "node_disk_size_gb" {
  description = "Root volume size of each node in GiB."
  type        = number
  default     = 50

  validation {
    condition     = var.node_disk_size_gb >= 20 && var.node_disk_size_gb <= 1000
    error_message = "node_disk_size_gb must be between 20 and 1000."
  }
}

variable "node_min_size" {
  description = "Minimum number of on-demand nodes (the cluster autoscaler's floor)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min_size >= 1
    error_message = "node_min_size must be at least 1."
  }
}

variable "node_desired_size" {
  description = "Initial number of on-demand nodes. Terraform ignores later changes: the cluster autoscaler owns it."
  type        = number
  default     = 2

  validation {
    condition     = var.node_desired_size >= var.node_min_size && var.node_desired_size <= var.node_max_size
    error_message = "node_desired_size must lie between node_min_size and node_max_size."
  }
}

variable "node_max_size" {
  description = "Maximum number of on-demand nodes (the cluster autoscaler's ceiling)."
  type        = number
  default     = 5

  validation {
    condition     = var.node_max_size >= var.node_min_size && var.node_max_size <= 100
    error_message = "node_max_size must be at least node_min_size and at most 100."
  }
}

variable "node_max_unavailable_percentage" {
  description = "Largest share of nodes replaced at once during a node group update."
  type        = number
  default     = 33

  validation {
    condition     = var.node_max_unavailable_percentage >= 1 && var.node_max_unavailable_percentage <= 100
    error_message = "node_max_unavailable_percentage must be between 1 and 100."
  }
}

# --- Traffic ------------------------------------------------------------------------------

variable "frontend_node_port" {
  description = "NodePort of bird-frontend-service; the NLB target group sends here and the printed helm command sets it. Its default is the chart's services.frontend.service.nodePort (tests/infra checks they agree)."
  type        = number
  default     = 30080

  validation {
    condition     = var.frontend_node_port >= 30000 && var.frontend_node_port <= 32767
    error_message = "frontend_node_port must be in the Kubernetes NodePort range 30000-32767."
  }
}

variable "app_namespace" {
  description = "Kubernetes namespace of the bird-chart release; the alarms' Namespace dimension."
  type        = string
  default     = "bird"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.app_namespace))
    error_message = "app_namespace must be a valid Kubernetes namespace name."
  }
}

variable "cloudfront_price_class" {
  description = "CloudFront price class: PriceClass_100 serves from North America and Europe only, the cheapest."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "page_cache_ttl_seconds" {
  description = "How long CloudFront caches pages and assets of the default behaviour (SPEC: 5 minutes). /api/* is never cached."
  type        = number
  default     = 300

  validation {
    condition     = var.page_cache_ttl_seconds >= 1 && var.page_cache_ttl_seconds <= 86400
    error_message = "page_cache_ttl_seconds must be between 1 and 86400 (CloudFront refuses a cache policy whose TTLs are all 0 while it compresses or keys on the query string)."
  }
}

# --- Observability ------------------------------------------------------------------------

variable "alert_email" {
  description = "E-mail address that receives the alarms (the subscription must be confirmed from the mail AWS sends)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address such as ops@example.com."
  }
}

variable "log_retention_days" {
  description = "Retention of the Container Insights and control-plane log groups (SPEC: 7, 30 in prod)."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts, such as 7, 14, 30 or 90."
  }
}

variable "dashboard_name" {
  description = "Name of the CloudWatch dashboard. Empty means <project_name>-overview (bird-api-overview). Dashboards are global to the account: give a second region's stack its own."
  type        = string
  default     = ""

  validation {
    condition     = var.dashboard_name == "" || can(regex("^[A-Za-z0-9_-]{1,255}$", var.dashboard_name))
    error_message = "dashboard_name must be empty or up to 255 letters, digits, hyphens or underscores."
  }
}

variable "log_metric_namespace" {
  description = "CloudWatch namespace of the request metrics extracted from the services' access logs."
  type        = string
  default     = "BirdApi"

  validation {
    condition     = can(regex("^[A-Za-z0-9/_.#-]{1,255}$", var.log_metric_namespace)) && !startswith(var.log_metric_namespace, "AWS/")
    error_message = "log_metric_namespace must be a custom CloudWatch namespace (not AWS/...)."
  }
}

variable "pod_cpu_alarm" {
  description = "Pod CPU alarm: percent of the pod's CPU limit, over evaluation_periods periods of period_seconds."
  type = object({
    threshold_percent  = number
    period_seconds     = number
    evaluation_periods = number
  })
  default = { threshold_percent = 80, period_seconds = 300, evaluation_periods = 2 }

  validation {
    condition     = var.pod_cpu_alarm.threshold_percent > 0 && var.pod_cpu_alarm.threshold_percent <= 100 && var.pod_cpu_alarm.period_seconds >= 60 && var.pod_cpu_alarm.period_seconds % 60 == 0 && var.pod_cpu_alarm.evaluation_periods >= 1
    error_message = "pod_cpu_alarm needs a threshold in (0, 100], a period that is a multiple of 60 s (Container Insights publishes each minute) and at least one evaluation period."
  }
}

variable "pod_memory_alarm" {
  description = "Pod memory alarm: percent of the pod's memory limit, over evaluation_periods periods of period_seconds."
  type = object({
    threshold_percent  = number
    period_seconds     = number
    evaluation_periods = number
  })
  default = { threshold_percent = 85, period_seconds = 300, evaluation_periods = 2 }

  validation {
    condition     = var.pod_memory_alarm.threshold_percent > 0 && var.pod_memory_alarm.threshold_percent <= 100 && var.pod_memory_alarm.period_seconds >= 60 && var.pod_memory_alarm.period_seconds % 60 == 0 && var.pod_memory_alarm.evaluation_periods >= 1
    error_message = "pod_memory_alarm needs a threshold in (0, 100], a period that is a multiple of 60 s and at least one evaluation period."
  }
}

variable "node_not_ready_alarm" {
  description = "Node alarm: fires when any node has a failing condition for evaluation_periods periods of period_seconds."
  type = object({
    period_seconds     = number
    evaluation_periods = number
  })
  default = { period_seconds = 60, evaluation_periods = 1 }

  validation {
    condition     = var.node_not_ready_alarm.period_seconds >= 60 && var.node_not_ready_alarm.period_seconds % 60 == 0 && var.node_not_ready_alarm.evaluation_periods >= 1
    error_message = "node_not_ready_alarm needs a period that is a multiple of 60 s and at least one evaluation period."
  }
}

variable "pod_restart_alarm" {
  description = "Restart alarm: fires when a service's containers restart more than max_restarts times within period_seconds."
  type = object({
    max_restarts   = number
    period_seconds = number
  })
  default = { max_restarts = 5, period_seconds = 300 }

  validation {
    condition     = var.pod_restart_alarm.max_restarts >= 0 && var.pod_restart_alarm.period_seconds >= 60 && var.pod_restart_alarm.period_seconds % 60 == 0
    error_message = "pod_restart_alarm needs a non-negative max_restarts and a period that is a multiple of 60 s."
  }
}

# The service level objectives: stated once here for CloudWatch (slo.tf) and with the same
# defaults in bird-chart's values (slo) for its PrometheusRule; a test keeps the two in step.
# Why these numbers (README: Service level objectives): availability 99.5 % because the stack
# sits in one region behind CloudFront, an NLB and spot nodes in dev (3.6 h of 5xx a month);
# latency 99 % within 500 ms, 50 times the /api/bird p99 the bench measures on a saturated
# laptop yet a quarter of the 2 s Unsplash budget, so only a request that waited on an upstream
# is slow; photo quality 99 %, since bird-image keeps serving the last good photo and only an
# outage or a keyless install shows placeholders (7.2 h a month).
variable "slo" {
  description = "Service level objectives over a rolling window of window_days: availability (page and /api/bird requests not answered 5xx), latency (/api/bird requests answered within latency.threshold_ms) and photo quality (birds answered with a real photo); targets in percent of the requests. photo_quality.enabled = false for a deliberately keyless install, whose every bird is the default image."
  type = object({
    window_days = optional(number, 30)
    availability = optional(object({
      target_percent = optional(number, 99.5)
    }), {})
    latency = optional(object({
      target_percent = optional(number, 99)
      threshold_ms   = optional(number, 500)
    }), {})
    photo_quality = optional(object({
      enabled        = optional(bool, true)
      target_percent = optional(number, 99)
    }), {})
  })
  default = {}

  # The burn-rate factors scale with the window (14.4 and 6 at 30 days, the SRE workbook's).
  # Below a week the six-hour window is too large a share of it to be a slow burn; past 90 days
  # an outage moves the budget too little to matter.
  validation {
    condition     = var.slo.window_days >= 7 && var.slo.window_days <= 90 && floor(var.slo.window_days) == var.slo.window_days
    error_message = "slo.window_days must be a whole number of days from 7 to 90."
  }

  # At 100 % there is no budget to burn; under 90 % a fast burn would need most requests to fail.
  validation {
    condition = alltrue([
      for target in [var.slo.availability.target_percent, var.slo.latency.target_percent, var.slo.photo_quality.target_percent] :
      target >= 90 && target < 100
    ])
    error_message = "Each slo target_percent must be at least 90 and below 100."
  }

  # A bucket boundary of http_request_duration_seconds (service-kit), so that the chart's
  # PrometheusRule counts exactly the requests the log metric filter counts; under the
  # frontend's 4 s budget for bird, above which a request fails rather than being slow.
  validation {
    condition     = contains([100, 250, 500, 1000, 2500], var.slo.latency.threshold_ms)
    error_message = "slo.latency.threshold_ms must be a latency bucket boundary of the services: 100, 250, 500, 1000 or 2500."
  }
}

# --- Helm commands printed as outputs -----------------------------------------------------

variable "app_image_registry" {
  description = "Registry of the three images (bird-chart value image.registry) in the printed helm command; CI pushes to docker.io."
  type        = string
  default     = "docker.io"

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?$", var.app_image_registry))
    error_message = "app_image_registry must be a registry host such as docker.io or ghcr.io."
  }
}

variable "app_image_owner" {
  description = "Owner (namespace) of the three images in the registry (bird-chart value image.owner): where CI pushes, the GitHub repository owner unless the IMAGE_OWNER repository variable says otherwise. Required: no default could name your registry account."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+([._-][a-z0-9]+)*$", var.app_image_owner))
    error_message = "app_image_owner is required and must be a lower-case registry namespace (the Docker Hub account CI pushes to), such as my-org."
  }
}

variable "app_image_tag" {
  description = "Image tag the printed bird-chart helm command deploys: one CI published (1.2.3 for release v1.2.3, sha-<7 hex> for a commit of main, or main). Required, so a deploy never falls back to a tag nobody pushed."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.app_image_tag))
    error_message = "app_image_tag is required and must be a container image tag that CI published, such as 1.2.3 or sha-1a2b3c4."
  }
}

variable "bird_chart" {
  description = "Chart the printed bird-chart helm command installs. Empty (the default): the chart published with release app_image_tag, oci://<app_image_registry>/<app_image_owner>/bird-chart (registry-1.docker.io for docker.io), which defaults to that release's images by digest. A local path (development, a commit of main), such as ../bird-chart from infrastructure/: the command then names the images by app_image_registry, app_image_owner and app_image_tag."
  type        = string
  default     = ""

  validation {
    condition     = var.bird_chart == "" || can(regex("^oci://[a-z0-9.:-]+(/[a-z0-9._-]+)+$", var.bird_chart)) || can(regex("^\\.{0,2}/", var.bird_chart))
    error_message = "bird_chart must be empty (the published chart), an oci:// chart reference, or a local path starting with ./, ../ or /."
  }
  validation {
    # A published chart has the version of its release tag; sha-<commit> and main are image tags only.
    condition     = can(regex("^\\.{0,2}/", var.bird_chart)) || can(regex("^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$", var.app_image_tag))
    error_message = "A published chart is installed by its release version: set app_image_tag to one (1.2.3 for tag v1.2.3), or bird_chart to a local path such as ../bird-chart to deploy a commit's images."
  }
}

variable "unsplash_secret_name" {
  description = "Secret in app_namespace that holds the Unsplash access key (README, deploy step 7), named in the printed helm command. Without that Secret bird-image-api runs keyless and answers the default image."
  type        = string
  default     = "bird-unsplash"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.unsplash_secret_name))
    error_message = "unsplash_secret_name must be a valid Kubernetes Secret name such as bird-unsplash."
  }
}

variable "tracing_enabled" {
  description = "Switches bird-chart's tracing on in the printed helm command: the three services send their spans to the CloudWatch agent of the amazon-cloudwatch-observability add-on, which forwards them to X-Ray (README: Traces). X-Ray bills recorded traces beyond its monthly free tier."
  type        = bool
  default     = false
}

variable "tracing_sample_ratio" {
  description = "Share of requests traced when tracing_enabled (bird-chart tracing.samplerArg, parent-based ratio sampling), 0 to 1."
  type        = number
  default     = 0.1

  validation {
    condition     = var.tracing_sample_ratio >= 0 && var.tracing_sample_ratio <= 1
    error_message = "tracing_sample_ratio must be between 0 and 1, such as 0.1 for one request in ten."
  }
}

variable "cluster_autoscaler_image_tag" {
  description = "Cluster autoscaler image tag in the printed helm command. Empty means v<kubernetes_version>.0: its minor version must match the cluster's."
  type        = string
  default     = ""

  validation {
    condition     = var.cluster_autoscaler_image_tag == "" || can(regex("^v1\\.[0-9]+\\.[0-9]+$", var.cluster_autoscaler_image_tag))
    error_message = "cluster_autoscaler_image_tag must be empty or a release tag such as v1.35.0."
  }
}

# --- The store of bird-image's fleet (on in prod) -----------------------------------------

variable "store_enabled" {
  description = "ElastiCache for Valkey as the store bird-image's pods share (photo cache and hourly Unsplash allowance): a replication group in the private subnets, TLS, encrypted with its own KMS key, its URL in Secrets Manager; the printed helm command then points the chart at it (README: The store). Off, the chart runs its own Valkey in the cluster."
  type        = bool
  default     = false
}

variable "store_node_type" {
  description = "ElastiCache node type of the store. bird-image keeps a few hundred bytes per bird name: the smallest node is plenty."
  type        = string
  default     = "cache.t4g.micro"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.store_node_type))
    error_message = "store_node_type must be an ElastiCache node type such as cache.t4g.micro."
  }
}

variable "store_replicas" {
  description = "Replicas of the store's primary. One or more turn on Multi-AZ automatic failover, so the cache and the hour's count survive a node's failure; 0 leaves a failed node to be replaced, minutes in which bird-image answers from memory."
  type        = number
  default     = 0

  validation {
    condition     = var.store_replicas >= 0 && var.store_replicas <= 5 && floor(var.store_replicas) == var.store_replicas
    error_message = "store_replicas must be a whole number from 0 to 5 (ElastiCache allows five replicas per shard)."
  }
}

variable "store_secret_name" {
  description = "Kubernetes Secret in app_namespace that holds the store's URL under CACHE_URL (README, deploy step 7), named in the printed helm command when store_enabled."
  type        = string
  default     = "bird-cache"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.store_secret_name))
    error_message = "store_secret_name must be a valid Kubernetes Secret name such as bird-cache."
  }
}

# --- Extras: each one a switch, off by default ------------------------------------------

variable "spot_enabled" {
  description = "Add a spot node group beside the on-demand one (same launch template, several instance types of one size)."
  type        = bool
  default     = false
}

variable "spot_instance_types" {
  description = "Instance types of the spot node group: the same size (2 vCPU, 4 GiB) so any of them fits the same pods; more types, fewer interruptions."
  type        = list(string)
  default     = ["t3.medium", "t3a.medium", "t2.medium"]

  validation {
    condition     = length(var.spot_instance_types) >= 2 && alltrue([for t in var.spot_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "spot_instance_types must list at least two EC2 instance types, so that one exhausted spot pool does not empty the group."
  }
}

variable "spot_min_size" {
  description = "Minimum number of spot nodes."
  type        = number
  default     = 1

  validation {
    condition     = var.spot_min_size >= 0
    error_message = "spot_min_size must not be negative."
  }
}

variable "spot_desired_size" {
  description = "Initial number of spot nodes; the cluster autoscaler owns it afterwards."
  type        = number
  default     = 1

  validation {
    condition     = var.spot_desired_size >= var.spot_min_size && var.spot_desired_size <= var.spot_max_size
    error_message = "spot_desired_size must lie between spot_min_size and spot_max_size."
  }
}

variable "spot_max_size" {
  description = "Maximum number of spot nodes."
  type        = number
  default     = 3

  validation {
    condition     = var.spot_max_size >= 1 && var.spot_max_size >= var.spot_min_size && var.spot_max_size <= 100
    error_message = "spot_max_size must be between max(1, spot_min_size) and 100."
  }
}

variable "domain_name" {
  description = "Custom domain of the site (for example birds.example.com). Empty: the CloudFront default domain and certificate."
  type        = string
  default     = ""

  validation {
    condition     = var.domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be empty or a lower-case DNS name such as birds.example.com."
  }
}

variable "route53_zone_id" {
  description = "ID of the public Route 53 hosted zone that holds domain_name (for certificate validation and the alias records)."
  type        = string
  default     = ""

  validation {
    condition     = (var.domain_name == "") == (var.route53_zone_id == "") && (var.route53_zone_id == "" || can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id)))
    error_message = "route53_zone_id must be a hosted zone ID such as Z0123456789ABC, set exactly when domain_name is."
  }
}

variable "slack_team_id" {
  description = "Slack workspace ID authorised once in the AWS Chatbot console (T...). With slack_channel_id, alarms also go to Slack."
  type        = string
  default     = ""

  validation {
    condition     = var.slack_team_id == "" || can(regex("^T[A-Z0-9]{6,}$", var.slack_team_id))
    error_message = "slack_team_id must be empty or a Slack workspace ID such as T07EA123LEP."
  }
}

variable "slack_channel_id" {
  description = "Slack channel ID (C...) that receives the alarms."
  type        = string
  default     = ""

  validation {
    condition     = (var.slack_channel_id == "") == (var.slack_team_id == "") && (var.slack_channel_id == "" || can(regex("^[A-Z0-9]{9,}$", var.slack_channel_id)))
    error_message = "slack_channel_id must be a Slack channel ID such as C07EZ1ABC23, set exactly when slack_team_id is."
  }
}

variable "chatbot_region" {
  description = "Region whose endpoint serves the (global) AWS Chatbot API; us-east-1 has none."
  type        = string
  default     = "us-east-2"

  validation {
    condition     = contains(["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"], var.chatbot_region)
    error_message = "chatbot_region must be a region with an AWS Chatbot API endpoint: us-east-2, us-west-2, eu-west-1 or ap-southeast-1."
  }
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose main branch and v* tags may deploy to this cluster through OIDC. Empty: no deploy role."
  type        = string
  default     = ""

  validation {
    condition     = var.github_repository == "" || can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", var.github_repository))
    error_message = "github_repository must be empty or owner/name."
  }
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider. An account has one per URL: set false where it exists already (a second region of the same account)."
  type        = bool
  default     = true
}

variable "secondary_origin_domain_name" {
  description = "DNS name of the frontend NLB of a second region's stack (its nlb_dns_name output). CloudFront then fails over to it on 5xx and connection errors. Empty: one origin."
  type        = string
  default     = ""

  validation {
    condition     = var.secondary_origin_domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.secondary_origin_domain_name))
    error_message = "secondary_origin_domain_name must be empty or a DNS name (the secondary stack's nlb_dns_name output)."
  }
}
