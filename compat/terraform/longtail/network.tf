# Elastic IPs, route tables and NAT gateways: a VPC with a public subnet (its own route table to the internet gateway)
# and a private one (a route table to a NAT gateway in the public subnet, with an Elastic IP of its own), an instance
# in the public subnet with an Elastic IP, and one in the private subnet.
resource "aws_vpc" "net" {
  cidr_block = "10.90.0.0/16"
  tags       = { Name = "tf-net" }
}
resource "aws_internet_gateway" "net" {
  vpc_id = aws_vpc.net.id
}
resource "aws_subnet" "net_public" {
  vpc_id            = aws_vpc.net.id
  cidr_block        = "10.90.1.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_subnet" "net_private" {
  vpc_id            = aws_vpc.net.id
  cidr_block        = "10.90.2.0/24"
  availability_zone = "us-east-1a"
}
resource "aws_route_table" "net_public" {
  vpc_id = aws_vpc.net.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.net.id
  }
  tags = { Name = "tf-net-public" }
}
resource "aws_route_table_association" "net_public" {
  subnet_id      = aws_subnet.net_public.id
  route_table_id = aws_route_table.net_public.id
}
resource "aws_eip" "net_nat" {
  domain     = "vpc"
  tags       = { Name = "tf-net-nat" }
  depends_on = [aws_internet_gateway.net]
}
resource "aws_nat_gateway" "net" {
  subnet_id     = aws_subnet.net_public.id
  allocation_id = aws_eip.net_nat.id
  tags          = { Name = "tf-net-nat" }
  depends_on    = [aws_internet_gateway.net]
}
resource "aws_route_table" "net_private" {
  vpc_id = aws_vpc.net.id
}
resource "aws_route" "net_private_out" {
  route_table_id         = aws_route_table.net_private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.net.id
}
resource "aws_route_table_association" "net_private" {
  subnet_id      = aws_subnet.net_private.id
  route_table_id = aws_route_table.net_private.id
}
resource "aws_key_pair" "net" {
  key_name   = "tf-net-key"
  public_key = var.public_key
}
resource "aws_instance" "net_web" {
  ami           = var.image_id
  instance_type = "t3.micro"
  key_name      = aws_key_pair.net.key_name
  subnet_id     = aws_subnet.net_public.id
  tags          = { Name = "tf-net-web" }
}
resource "aws_eip" "net_web" {
  domain = "vpc"
}
resource "aws_eip_association" "net_web" {
  instance_id   = aws_instance.net_web.id
  allocation_id = aws_eip.net_web.id
}
resource "aws_instance" "net_private" {
  ami           = var.image_id
  instance_type = "t3.micro"
  subnet_id     = aws_subnet.net_private.id
  tags          = { Name = "tf-net-private" }
}
output "net_web_id" { value = aws_instance.net_web.id }
output "net_web_eip" { value = aws_eip.net_web.public_ip }
output "net_nat_ip" { value = aws_nat_gateway.net.public_ip }
output "net_private_rtb" { value = aws_route_table.net_private.id }
output "net_private_subnet" { value = aws_subnet.net_private.id }
