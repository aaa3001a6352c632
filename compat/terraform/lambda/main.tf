# Terraform's AWS provider, unchanged, against pcloud's Lambda: a function from a zip, and an invocation of it.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" { type = string }
# Given to every config by run.sh; unused here.
variable "image_id" { type = string }
variable "public_key" { type = string }

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    iam    = var.endpoint
    lambda = var.endpoint
    sts    = var.endpoint
  }
}

# The function's execution role, as real configurations make it: a role Lambda may assume.
resource "aws_iam_role" "tf_lambda" {
  name = "tf-lambda"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_lambda_function" "hello" {
  function_name    = "tf-hello"
  role             = aws_iam_role.tf_lambda.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "${path.module}/function.zip"
  source_code_hash = filebase64sha256("${path.module}/function.zip")
  timeout          = 5
  memory_size      = 256
  environment {
    variables = { GREETING = "hello from terraform" }
  }
}

data "aws_lambda_invocation" "hello" {
  function_name = aws_lambda_function.hello.function_name
  input         = jsonencode({ name = "tf" })
}

output "result" {
  value = data.aws_lambda_invocation.hello.result
}

output "arn" {
  value = aws_lambda_function.hello.arn
}
