#!/usr/bin/env bash
# The AWS CLI, unchanged, against pcloud: run, describe with filters and paging, tags, key pairs, attribute reads,
# console output, waiters, terminate, and the errors a user meets. Needs AWS_* from the environment and IMAGE_ID.
set -euo pipefail
: "${AWS_ENDPOINT_URL:?}" "${IMAGE_ID:?}"
. "$(dirname "$0")/cli-lib.sh"

tmp=$(mktemp -d)
# Terminated instances of earlier runs stay visible for an hour: tag this run's own.
suite=aws-cli-$(date +%s%N)
trap 'rm -rf "$tmp"' EXIT

# The CLI's waiters poll every 15 s, as their model says. Here the same waiters (their acceptors as this CLI ships them,
# the same patience in all) poll every second, as boto3_test.py's WaiterConfig does: botocore reads a service's data
# from AWS_DATA_PATH before its own. Where python3 has no botocore to read them from, the shipped ones run as they are.
if python3 - "$tmp/models" <<'PY' 2>/dev/null; then export AWS_DATA_PATH="$tmp/models"; fi
import json, os, sys
from botocore.loaders import Loader
loader = Loader()
version = loader.determine_latest_version('ec2', 'service-2')
model = loader.load_service_model('ec2', 'waiters-2', version)
for waiter in model['waiters'].values():
    waiter['maxAttempts'] = waiter['delay'] * waiter['maxAttempts']
    waiter['delay'] = 1
os.makedirs(os.path.join(sys.argv[1], 'ec2', version))
with open(os.path.join(sys.argv[1], 'ec2', version, 'waiters-2.json'), 'w') as f:
    json.dump(model, f)
PY

aws ec2 describe-images --image-ids "$IMAGE_ID" --query 'Images[0].Name' --output text | grep -q debian-12 && ok "describe-images"

ssh-keygen -q -t ed25519 -N '' -f "$tmp/id" -C cli-key
aws ec2 import-key-pair --key-name cli-key --public-key-material "fileb://$tmp/id.pub" >/dev/null && ok "import-key-pair"
aws ec2 describe-key-pairs --key-names cli-key --query 'KeyPairs[0].KeyName' --output text | grep -qx cli-key && ok "describe-key-pairs"
expect_error InvalidKeyPair.Duplicate aws ec2 import-key-pair --key-name cli-key --public-key-material "fileb://$tmp/id.pub"

printf '#!/bin/sh\necho cli > /var/tmp/cli-marker\n' > "$tmp/user-data.sh"
expect_error DryRunOperation aws ec2 run-instances --dry-run --image-id "$IMAGE_ID" --instance-type t3.micro
ids=$(aws ec2 run-instances --image-id "$IMAGE_ID" --instance-type t3.micro --count 2 --key-name cli-key \
  --user-data "file://$tmp/user-data.sh" \
  --tag-specifications "ResourceType=instance,Tags=[{Key=Name,Value=cli},{Key=suite,Value=$suite}]" \
  --query 'Instances[].InstanceId' --output text)
set -- $ids
[ $# -eq 2 ] && ok "run-instances --count 2: $ids"
a=$1 b=$2

sleep 2
aws ec2 wait instance-running --instance-ids "$a" "$b" && ok "wait instance-running"
# Status ok once the guests' boot is done (cloud-init finished): the waiter users run before relying on user-data.
aws ec2 wait instance-status-ok --instance-ids "$a" "$b" && ok "wait instance-status-ok"
st=$(aws ec2 describe-instance-status --instance-ids "$a" --filters Name=instance-status.status,Values=ok \
  --query 'InstanceStatuses[].[InstanceStatus.Status,SystemStatus.Details[0].Status]' --output text)
[ "$st" = "ok	passed" ] && ok "describe-instance-status --filters instance-status.status=ok"
n=$(aws ec2 describe-instances --filters Name=tag:suite,Values=$suite Name=instance-state-name,Values=running \
  --query 'length(Reservations[].Instances[])' --output text)
[ "$n" = 2 ] && ok "describe-instances with tag and state filters"
# Paging: the CLI turns --page-size into MaxResults and follows NextToken itself.
all=$(aws ec2 describe-instances --filters Name=tag:suite,Values=$suite --page-size 5 --query 'Reservations[].Instances[].InstanceId' --output text | wc -w)
[ "$all" = 2 ] && ok "describe-instances paging"
first=$(aws ec2 describe-instances --max-items 1 --query 'NextToken' --output text)
[ -n "$first" ] && [ "$first" != None ] && ok "describe-instances --max-items gives a NextToken"

aws ec2 create-tags --resources "$a" --tags Key=role,Value=db && ok "create-tags"
aws ec2 describe-tags --filters "Name=resource-id,Values=$a" "Name=key,Values=role" --query 'Tags[0].Value' --output text | grep -qx db && ok "describe-tags"
aws ec2 delete-tags --resources "$a" --tags Key=role && ok "delete-tags"
[ "$(aws ec2 describe-tags --filters "Name=resource-id,Values=$a" "Name=key,Values=role" --query 'length(Tags)' --output text)" = 0 ] && ok "tag gone"

ud=$(aws ec2 describe-instance-attribute --instance-id "$a" --attribute userData --query 'UserData.Value' --output text | base64 -d)
[ "$ud" = "$(cat "$tmp/user-data.sh")" ] && ok "describe-instance-attribute userData round-trips"
aws ec2 describe-instance-attribute --instance-id "$a" --attribute disableApiTermination --query 'DisableApiTermination.Value' --output text | grep -qx False && ok "disableApiTermination"
aws ec2 modify-instance-attribute --instance-id "$a" --disable-api-termination && ok "modify-instance-attribute"
expect_error OperationNotPermitted aws ec2 terminate-instances --instance-ids "$a"
aws ec2 modify-instance-attribute --instance-id "$a" --no-disable-api-termination

aws ec2 get-console-output --instance-id "$a" --query Output --output text | grep -qE 'login:|Reached target' && ok "get-console-output"

expect_error InvalidInstanceID.Malformed aws ec2 describe-instances --instance-ids i-nothex
expect_error InvalidInstanceID.NotFound aws ec2 describe-instances --instance-ids i-0123456789abcdef0
expect_error AuthFailure env AWS_SECRET_ACCESS_KEY=wrong aws ec2 describe-instances
expect_error InvalidAMIID.NotFound aws ec2 run-instances --image-id ami-00000000000000000 --instance-type t3.micro

aws ec2 terminate-instances --instance-ids "$a" "$b" --query 'TerminatingInstances[].CurrentState.Name' --output text | grep -q shutting-down && ok "terminate-instances"
aws ec2 wait instance-terminated --instance-ids "$a" "$b" && ok "wait instance-terminated"
aws ec2 delete-key-pair --key-name cli-key && ok "delete-key-pair"

echo "aws-cli: $pass passed, 0 failed"
