variable "aws_region" {
  description = "Region of the state bucket and lock table. One bucket serves every region's stack (state keys differ)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region code such as us-east-1."
  }
}

variable "project_name" {
  description = "Project name, the prefix of the bucket and table names."
  type        = string
  default     = "bird-api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3 to 22 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "noncurrent_state_retention_days" {
  description = "How long superseded state versions are kept (to roll back a broken apply)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_state_retention_days >= 7
    error_message = "noncurrent_state_retention_days must be at least 7."
  }
}
