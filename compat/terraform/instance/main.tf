# Terraform's AWS provider, unchanged, against pcloud: a key pair and an instance with tags and user_data.
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
    ec2 = var.endpoint
    sts = var.endpoint
  }
}

resource "aws_key_pair" "tf" {
  key_name   = "tf-key"
  public_key = var.public_key
}

resource "aws_instance" "web" {
  ami           = var.image_id
  instance_type = "t3.micro"
  key_name      = aws_key_pair.tf.key_name
  user_data     = "#!/bin/sh\necho terraform > /var/tmp/tf-marker\n"
  tags = {
    Name  = "tf-web"
    suite = "terraform"
  }
}

output "instance_id" { value = aws_instance.web.id }
output "private_ip" { value = aws_instance.web.private_ip }
output "private_dns" { value = aws_instance.web.private_dns }
