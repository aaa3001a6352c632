# Lambda's long tail: a function without an environment block (AWS leaves Environment out: no change on the second
# plan), published, with reserved concurrency; an alias of its version with a URL of its own; resource-policy
# statements letting another account invoke the function and call the alias' URL. The other account is named by its root
# ARN: AWS stores an account id as that ARN, and the provider then plans to replace the permission on every plan
# (hashicorp/terraform-provider-aws#30722); pcloud answers as AWS does.
# The function's execution role, as real configurations make it: a role Lambda may assume.
resource "aws_iam_role" "tf_longtail" {
  name = "tf-longtail"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_lambda_function" "tail" {
  function_name                  = "tf-longtail"
  role                           = aws_iam_role.tf_longtail.arn
  runtime                        = "python3.12"
  handler                        = "app.handler"
  filename                       = "${path.module}/lambda-longtail.zip"
  source_code_hash               = filebase64sha256("${path.module}/lambda-longtail.zip")
  publish                        = true
  reserved_concurrent_executions = 2
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  description      = "the published version"
  function_name    = aws_lambda_function.tail.function_name
  function_version = aws_lambda_function.tail.version
}

resource "aws_lambda_function_url" "live" {
  function_name      = aws_lambda_function.tail.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = "AWS_IAM"
}

resource "aws_lambda_permission" "other_account" {
  statement_id  = "other-account-invoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.tail.function_name
  principal     = "arn:aws:iam::222222222222:root"
}

resource "aws_lambda_permission" "other_account_url" {
  statement_id           = "other-account-url"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.tail.function_name
  qualifier              = aws_lambda_alias.live.name
  principal              = "arn:aws:iam::222222222222:root"
  function_url_auth_type = "AWS_IAM"
}

output "lambda_alias_arn" {
  value = aws_lambda_alias.live.arn
}

output "lambda_alias_url" {
  value = aws_lambda_function_url.live.function_url
}
