#!/bin/sh
# After apply: the function ran as a session of its role, named for the function; the instance has the profile.
set -eu
account=$(echo "$TF_OUT_function_role" | cut -d: -f5)
want="arn:aws:sts::$account:assumed-role/tf-identity-fn/tf-identity-who"
[ "$TF_OUT_function_identity" = "$want" ] || { echo "not ok - the function ran as '$TF_OUT_function_identity', not '$want'" >&2; exit 1; }
aws ec2 describe-instances --instance-ids "$TF_OUT_instance_id" --query 'Reservations[0].Instances[0].IamInstanceProfile.Arn' --output text > profile.txt
[ "$(cat profile.txt)" = "$TF_OUT_instance_profile_arn" ] || { echo "not ok - the instance's profile is '$(cat profile.txt)', not '$TF_OUT_instance_profile_arn'" >&2; exit 1; }
