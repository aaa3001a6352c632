#!/usr/bin/env bash
# After apply: the Elastic IP is the web instance's public IP, the NAT gateway is available with its own, and the
# private subnet's route table sends 0.0.0.0/0 to it (read back through the AWS CLI, as a second tool would).
set -euo pipefail
: "${TF_OUT_net_web_id:?}" "${TF_OUT_net_web_eip:?}" "${TF_OUT_net_nat_ip:?}" "${TF_OUT_net_private_rtb:?}"
ip=$(aws ec2 describe-instances --instance-ids "$TF_OUT_net_web_id" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
[ "$ip" = "$TF_OUT_net_web_eip" ] || { echo "web instance's public IP is $ip, not its Elastic IP $TF_OUT_net_web_eip" >&2; exit 1; }
state=$(aws ec2 describe-nat-gateways --filter "Name=state,Values=available" --query "NatGateways[?NatGatewayAddresses[0].PublicIp=='$TF_OUT_net_nat_ip'] | length(@)" --output text)
[ "$state" = 1 ] || { echo "no available NAT gateway with $TF_OUT_net_nat_ip" >&2; exit 1; }
target=$(aws ec2 describe-route-tables --route-table-ids "$TF_OUT_net_private_rtb" --query "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].NatGatewayId | [0]" --output text)
case "$target" in nat-*) ;; *) echo "private route table's default route goes to '$target', not a NAT gateway" >&2; exit 1 ;; esac
echo "network: EIP $TF_OUT_net_web_eip on $TF_OUT_net_web_id, NAT gateway $TF_OUT_net_nat_ip for the private subnet"
