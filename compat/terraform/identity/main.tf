# Identity as real configurations start: a Lambda function's execution role with AWS's managed basic execution policy
# attached, the function using it (its invocation answers as the role's session: sts get_caller_identity from boto3
# with no keys), and an instance launched with an instance profile of a role EC2 may assume.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

variable "endpoint" { type = string }
variable "image_id" { type = string }
# Given to every config by run.sh; unused here.
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

resource "aws_iam_role" "fn" {
  name = "tf-identity-fn"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "fn_basic" {
  role       = aws_iam_role.fn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_lambda_function" "who" {
  function_name    = "tf-identity-who"
  role             = aws_iam_role.fn.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "${path.module}/identity.zip"
  source_code_hash = filebase64sha256("${path.module}/identity.zip")
  timeout          = 30
  # The role's policies first: what the function may do is there when it first runs.
  depends_on = [aws_iam_role_policy_attachment.fn_basic]
}

data "aws_lambda_invocation" "who" {
  function_name = aws_lambda_function.who.function_name
  input         = jsonencode({})
}

resource "aws_iam_role" "instance" {
  name = "tf-identity-instance"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_instance_profile" "instance" {
  name = "tf-identity-instance"
  role = aws_iam_role.instance.name
}

resource "aws_instance" "with_profile" {
  ami                  = var.image_id
  instance_type        = "t3.micro"
  iam_instance_profile = aws_iam_instance_profile.instance.name
  tags = {
    Name = "tf-identity"
  }
}

output "function_identity" { value = jsondecode(data.aws_lambda_invocation.who.result).arn }
output "function_role" { value = aws_iam_role.fn.arn }
output "instance_id" { value = aws_instance.with_profile.id }
output "instance_profile_arn" { value = aws_iam_instance_profile.instance.arn }
