# vpc.tf: the SPEC's network, the NAT switch and the subnet validations.

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

# Distinct IDs for the resources whose wiring the assertions follow (mocks leave `id` unknown).
override_resource {
  target          = aws_subnet.public[0]
  override_during = plan
  values          = { id = "subnet-0public0a" }
}
override_resource {
  target          = aws_subnet.public[1]
  override_during = plan
  values          = { id = "subnet-0public0b" }
}
override_resource {
  target          = aws_nat_gateway.main[0]
  override_during = plan
  values          = { id = "nat-0zone0a" }
}
override_resource {
  target          = aws_nat_gateway.main[1]
  override_during = plan
  values          = { id = "nat-0zone0b" }
}
override_resource {
  target          = aws_internet_gateway.main
  override_during = plan
  values          = { id = "igw-0main" }
}

run "vpc_follows_the_spec" {
  command = plan

  assert {
    condition     = aws_vpc.main.cidr_block == "10.0.0.0/16" && aws_vpc.main.enable_dns_hostnames
    error_message = "The VPC must be 10.0.0.0/16 with DNS host names (nodes register by DNS name)."
  }
  assert {
    condition     = aws_subnet.public[*].cidr_block == ["10.0.1.0/24", "10.0.2.0/24"] && aws_subnet.private[*].cidr_block == ["10.0.101.0/24", "10.0.102.0/24"]
    error_message = "Subnets must be public 10.0.1.0/24, 10.0.2.0/24 and private 10.0.101.0/24, 10.0.102.0/24."
  }
  assert {
    condition     = aws_subnet.public[*].availability_zone == ["us-east-1a", "us-east-1b"] && aws_subnet.private[*].availability_zone == ["us-east-1a", "us-east-1b"]
    error_message = "Each pair of subnets must span the first two availability zones."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.tags["kubernetes.io/role/elb"] == "1" && !s.map_public_ip_on_launch]) && alltrue([for s in aws_subnet.private : s.tags["kubernetes.io/role/internal-elb"] == "1"])
    error_message = "Subnets must carry the Kubernetes load balancer role tags, and public subnets must not hand out public IPs."
  }
  assert {
    condition     = length(aws_nat_gateway.main) == 2 && length(aws_eip.nat) == 2
    error_message = "By default there must be one NAT gateway (and Elastic IP) per zone."
  }
  assert {
    condition     = aws_nat_gateway.main[*].subnet_id == ["subnet-0public0a", "subnet-0public0b"]
    error_message = "The two NAT gateways must sit in the two public subnets, one each."
  }
  assert {
    condition     = length(aws_route_table.private) == 2 && [for rt in aws_route_table.private : one(rt.route).nat_gateway_id] == ["nat-0zone0a", "nat-0zone0b"]
    error_message = "Each private route table must leave through its own zone's NAT gateway."
  }
  assert {
    condition     = one(aws_route_table.public.route).gateway_id == "igw-0main" && one(aws_route_table.public.route).cidr_block == "0.0.0.0/0"
    error_message = "The public route table must send 0.0.0.0/0 to the internet gateway."
  }
}

run "single_nat_gateway_serves_both_zones" {
  command = plan

  variables {
    single_nat_gateway = true
  }

  assert {
    condition     = length(aws_nat_gateway.main) == 1 && length(aws_eip.nat) == 1
    error_message = "single_nat_gateway must create exactly one NAT gateway."
  }
  assert {
    condition     = alltrue([for rt in aws_route_table.private : one(rt.route).nat_gateway_id == "nat-0zone0a"])
    error_message = "With a single NAT gateway both private route tables must use it."
  }
}

run "vpc_cidr_and_two_zones_are_validated" {
  command = plan
  variables {
    vpc_cidr             = "10.0.0.0"
    public_subnet_cidrs  = ["10.0.1.0/24"]
    private_subnet_cidrs = ["10.0.101.0/24"]
  }
  expect_failures = [var.vpc_cidr, var.public_subnet_cidrs]
}

run "one_private_subnet_per_public_subnet" {
  command = plan
  variables {
    private_subnet_cidrs = ["10.0.101.0/24", "10.0.102.0/24", "10.0.103.0/24"]
  }
  expect_failures = [var.private_subnet_cidrs]
}
