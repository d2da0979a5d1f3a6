# The inputs without defaults, for every test file here (`terraform test` reads *.auto.tfvars
# from the test directory). tests/environments/ sets its own.
alert_email                          = "ops@example.com"
cluster_endpoint_public_access_cidrs = ["203.0.113.10/32"]
app_image_owner                      = "bird-owner"
app_image_tag                        = "1.4.2"
