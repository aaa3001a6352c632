#!/usr/bin/env bash
# After apply, from the host: the instance is on the VPC's network with the address Terraform got, and reaches the
# VPC's DNS server (base + 2, in the VPC router) over TCP.
set -euo pipefail
: "${TF_OUT_instance_id:?}" "${TF_OUT_private_ip:?}" "${TF_OUT_vpc_id:?}"
ns="pcloud-$TF_OUT_instance_id"
ip -n "$ns" -o -4 addr show dev eth0 | grep -q " $TF_OUT_private_ip/24 " || { echo "eth0 in $ns has not $TF_OUT_private_ip/24" >&2; exit 1; }
ip netns list | grep -q "^pcloud-$TF_OUT_vpc_id" || { echo "no router namespace for $TF_OUT_vpc_id" >&2; exit 1; }
timeout 5 ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/10.20.0.2/53'
