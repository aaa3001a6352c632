# Terraform's AWS provider, unchanged, against the long tail real configurations use. The provider and variables live
# here; each other *.tf file in this directory adds one group of resources (network.tf, templates.tf, lambda.tf), with
# its own prepare-*.sh (made in the working directory before terraform runs) and check-*.sh (run after apply, with
# the outputs in TF_OUT_*).
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" { type = string }
variable "image_id" { type = string }
variable "public_key" { type = string }

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    ec2    = var.endpoint
    iam    = var.endpoint
    lambda = var.endpoint
    sts    = var.endpoint
  }
}
