# The passive second region of prod (README: "Second region"). Apply with its own state key:
#   terraform init -reconfigure -backend-config=prod-us-west-2.s3.tfbackend
#   terraform apply -var-file=prod.tfvars -var-file=prod-us-west-2.tfvars
# then give its nlb_dns_name output to the primary as secondary_origin_domain_name.
aws_region = "us-west-2"

# The account's GitHub OIDC provider already exists (created by the primary region's stack).
create_github_oidc_provider = false

# Dashboards are global to the account; the primary keeps bird-api-overview.
dashboard_name = "bird-api-overview-us-west-2"
