# S3 bucket for CloudFront standard logs: private, encrypted, TLS-only, archived to Glacier
# after 90 days and deleted after two years.

resource "aws_s3_bucket" "access_logs" {
  bucket = "${var.project_name}-${var.environment}-logs-${local.account_id}-${var.aws_region}"

  # Dev is torn down with its logs; prod keeps them until someone empties the bucket on purpose.
  force_destroy = !local.is_prod

  #checkov:skip=CKV_AWS_18:This is the log bucket; logging its own access would log into itself.
  #checkov:skip=CKV_AWS_144:Access logs are not worth a second copy in another region.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of new log objects.
  #checkov:skip=CKV_AWS_145:CloudFront standard logging delivers with an ACL grant to the awslogsdelivery account, which SSE-KMS would have to trust too; SSE-S3 keeps delivery working.
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# CloudFront standard logging writes through an ACL grant, so ACLs must stay enabled.
resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }

  #checkov:skip=CKV2_AWS_65:CloudFront standard logging delivers through an ACL grant; the public access block stops any public ACL.
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "archive-then-expire"
    status = "Enabled"
    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER"
    }

    expiration {
      days = 730
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyPlainHttp"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
