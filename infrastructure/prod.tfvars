# Production: on-demand nodes only, a NAT gateway per zone, more headroom for the autoscaler,
# a month of logs.
environment        = "prod"
single_nat_gateway = false
log_retention_days = 30
node_min_size      = 3
node_desired_size  = 3
node_max_size      = 10
spot_enabled       = false

# bird-image's fleet shares ElastiCache for Valkey, with a replica in the other zone.
store_enabled  = true
store_replicas = 1
