# providers.tf (tags) and outputs.tf (the commands a user runs after apply).

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

run "tags_and_commands" {
  command = plan

  variables {
    extra_tags         = { CostCenter = "birds", ManagedBy = "hand" }
    bird_chart         = "../bird-chart"
    app_image_tag      = "1234567"
    frontend_node_port = 30123
  }

  assert {
    condition     = local.tags == { Project = "bird-api", Environment = "dev", ManagedBy = "Terraform", CostCenter = "birds" }
    error_message = "Default tags must be Project, Environment and ManagedBy = Terraform, which extra_tags cannot override."
  }
  assert {
    condition     = output.kubeconfig_command == "aws eks update-kubeconfig --region us-east-1 --name bird-api-cluster"
    error_message = "kubeconfig_command must name the region and cluster."
  }
  assert {
    condition = alltrue([for arg in [
      "helm upgrade --install bird ../bird-chart",
      "--namespace bird --create-namespace",
      "--set image.registry=docker.io",
      "--set-string image.owner=bird-owner",
      "--set-string image.tag=1234567",
      "--set unsplash.existingSecret=bird-unsplash",
      "--set services.frontend.service.type=NodePort",
      "--set services.frontend.service.nodePort=30123",
    ] : strcontains(output.helm_bird_chart_command, arg)])
    error_message = "The bird-chart command must deploy the given owner and tag (as strings), name the Unsplash Secret, and put the frontend in NodePort mode on the NLB's port."
  }
  assert {
    condition     = !strcontains(output.helm_bird_chart_command, "--version")
    error_message = "A local chart has no published version to ask for."
  }
  assert {
    condition     = aws_lb_target_group.frontend.port == 30123
    error_message = "The target group must follow frontend_node_port too."
  }
  assert {
    condition     = strcontains(output.dashboard_url, "#dashboards/dashboard/bird-api-overview") && output.region == "us-east-1"
    error_message = "dashboard_url must open bird-api-overview."
  }
}

# By default the command installs the chart published with the release, which knows its own
# images (by digest): the same install as bird-chart/README.md shows first.
run "published_chart_by_default" {
  command = plan

  variables {
    app_image_tag = "1.4.2"
  }

  assert {
    condition = startswith(output.helm_bird_chart_command, join(" \\\n  ", [
      "helm upgrade --install bird oci://registry-1.docker.io/bird-owner/bird-chart",
      "--version 1.4.2",
      "--namespace bird --create-namespace",
      "--set unsplash.existingSecret=bird-unsplash",
    ]))
    error_message = "The default command must install the published chart of app_image_tag from the owner's registry, and set nothing about images."
  }
  assert {
    condition     = !strcontains(output.helm_bird_chart_command, "image.")
    error_message = "The published chart defaults to its release's images; the command must not override them."
  }
  assert {
    condition     = !strcontains(output.helm_bird_chart_command, "tracing.")
    error_message = "Tracing is off unless tracing_enabled: the command must leave the chart's default (off)."
  }
}

# Spans to the add-on's agent: the chart's default endpoint, this stack's environment, the ratio.
run "tracing_in_the_chart_command" {
  command = plan

  variables {
    app_image_tag        = "1.4.2"
    environment          = "prod"
    tracing_enabled      = true
    tracing_sample_ratio = 0.25
  }

  assert {
    condition = strcontains(output.helm_bird_chart_command, join(" \\\n  ", [
      "--set tracing.enabled=true",
      "--set tracing.samplerArg=0.25",
      "--set tracing.environment=prod",
      "--wait --timeout 10m",
    ]))
    error_message = "With tracing_enabled the command must switch the chart's tracing on, with the sample ratio and the environment, before --wait."
  }
  assert {
    condition     = !strcontains(output.helm_bird_chart_command, "otlpEndpoint")
    error_message = "The endpoint is the chart's default, the add-on's CloudWatch agent."
  }
}

run "tracing_sample_ratio_is_a_share" {
  command = plan

  variables {
    app_image_tag        = "1.4.2"
    tracing_enabled      = true
    tracing_sample_ratio = 1.5
  }

  expect_failures = [var.tracing_sample_ratio]
}

run "published_chart_of_another_registry" {
  command = plan

  variables {
    app_image_registry = "ghcr.io"
    app_image_tag      = "2.0.0-rc.1"
  }

  assert {
    condition     = startswith(output.helm_bird_chart_command, "helm upgrade --install bird oci://ghcr.io/bird-owner/bird-chart \\\n  --version 2.0.0-rc.1")
    error_message = "The published chart lives next to the images, in app_image_registry."
  }
}

# sha-<commit> and main are image tags; only a release has a chart of that version.
run "published_chart_needs_a_release_version" {
  command = plan

  variables {
    app_image_tag = "sha-1a2b3c4"
  }

  expect_failures = [var.bird_chart]
}

run "bird_chart_is_validated" {
  command = plan

  variables {
    bird_chart = "bird-chart"
  }

  expect_failures = [var.bird_chart]
}

# Nothing in the chart's defaults names where CI pushed: without an owner and a tag nothing deploys.
run "image_owner_and_tag_are_required" {
  command = plan

  variables {
    bird_chart      = "../bird-chart"
    app_image_owner = ""
    app_image_tag   = ""
  }

  expect_failures = [
    var.app_image_owner,
    var.app_image_tag,
  ]
}

run "identity_variables_are_validated" {
  command = plan

  variables {
    aws_region           = "us-east"
    bird_chart           = "../bird-chart"
    app_image_registry   = "https://docker.io"
    app_image_owner      = "Bird Stack"
    app_image_tag        = "-bad"
    unsplash_secret_name = "Bird_Unsplash"
  }

  expect_failures = [
    var.aws_region,
    var.app_image_registry,
    var.app_image_owner,
    var.app_image_tag,
    var.unsplash_secret_name,
  ]
}
