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
    condition     = aws_lb_target_group.frontend.port == 30123
    error_message = "The target group must follow frontend_node_port too."
  }
  assert {
    condition     = strcontains(output.dashboard_url, "#dashboards/dashboard/bird-api-overview") && output.region == "us-east-1"
    error_message = "dashboard_url must open bird-api-overview."
  }
}

# Nothing in the chart's defaults names where CI pushed: without an owner and a tag nothing deploys.
run "image_owner_and_tag_are_required" {
  command = plan

  variables {
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
