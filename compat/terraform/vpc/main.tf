# Terraform's AWS provider, unchanged, against pcloud: a VPC with a subnet, an internet gateway, a security group
# and an instance in that subnet.
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

resource "aws_vpc" "main" {
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags = { Name = "tf-vpc" }
}
resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "us-east-1a"
  tags = { Name = "tf-subnet" }
}
resource "aws_internet_gateway" "gw" {
  vpc_id = aws_vpc.main.id
}
resource "aws_security_group" "web" {
  name        = "tf-web"
  description = "web"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_key_pair" "vpc" {
  key_name   = "tf-vpc-key"
  public_key = var.public_key
}
resource "aws_instance" "web" {
  ami                    = var.image_id
  instance_type          = "t3.micro"
  key_name               = aws_key_pair.vpc.key_name
  subnet_id              = aws_subnet.a.id
  vpc_security_group_ids = [aws_security_group.web.id]
  tags = { Name = "tf-vpc-web" }
}
output "vpc_id" { value = aws_vpc.main.id }
output "subnet_id" { value = aws_subnet.a.id }
output "instance_id" { value = aws_instance.web.id }
output "private_ip" { value = aws_instance.web.private_ip }
