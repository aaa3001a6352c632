# Lambda layers: an aws_lambda_layer_version from a zip (prepare-layers.sh makes it), and a function of its own using it
# through `layers`, invoked with data.aws_lambda_invocation: its answer comes from the layer's code (/opt/python).
resource "aws_lambda_layer_version" "tf_layer" {
  layer_name               = "tf-layer"
  filename                 = "${path.module}/tf-layer.zip"
  source_code_hash         = filebase64sha256("${path.module}/tf-layer.zip")
  description              = "a module the function imports from /opt/python"
  compatible_runtimes      = ["python3.12"]
  compatible_architectures = ["x86_64"]
  license_info             = "MIT"
}

# The function's execution role, as real configurations make it: a role Lambda may assume.
resource "aws_iam_role" "tf_layered" {
  name = "tf-layered"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_lambda_function" "tf_layered" {
  function_name    = "tf-layered"
  role             = aws_iam_role.tf_layered.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "${path.module}/tf-layered.zip"
  source_code_hash = filebase64sha256("${path.module}/tf-layered.zip")
  layers           = [aws_lambda_layer_version.tf_layer.arn]
  environment {
    variables = { SUFFIX = "from a layer" }
  }
}

data "aws_lambda_invocation" "tf_layered" {
  function_name = aws_lambda_function.tf_layered.function_name
  input         = jsonencode({ name = "tf" })
}

output "layered_result" {
  value = data.aws_lambda_invocation.tf_layered.result
}

output "layer_version_arn" {
  value = aws_lambda_layer_version.tf_layer.arn
}
