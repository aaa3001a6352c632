#!/usr/bin/env bash
# The AWS CLI's STS, unchanged, against pcloud: who am I as root, a role created with `aws iam create-role` assumed
# with `aws sts assume-role`, its credentials used through the environment (AWS_SESSION_TOKEN) naming the
# assumed-role ARN, GetSessionToken's credentials used on EC2, and the errors a user meets. Needs AWS_* from the
# environment.
set -euo pipefail
: "${AWS_ENDPOINT_URL:?}"
. "$(dirname "$0")/cli-lib.sh"

account=$(aws sts get-caller-identity --query Account --output text)
[ "$(aws sts get-caller-identity --query Arn --output text)" = "arn:aws:iam::$account:root" ] && ok "get-caller-identity as root"

role=sts-cli-$(date +%s%N)
trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'"$account"':root"},"Action":"sts:AssumeRole"}]}'
role_arn=$(aws iam create-role --role-name "$role" --path /cli/ --assume-role-policy-document "$trust" --query Role.Arn --output text)
trap 'aws iam delete-role --role-name "$role" >/dev/null 2>&1 || true' EXIT
[ "$role_arn" = "arn:aws:iam::$account:role/cli/$role" ] && ok "create-role $role_arn"

read -r ak sk token expiration < <(aws sts assume-role --role-arn "$role_arn" --role-session-name cli-session --duration-seconds 900 \
  --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken,Expiration]' --output text)
[[ $ak == ASIA* ]] && [ -n "$token" ] && ok "assume-role: $ak until $expiration"
as_role() { AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$token "$@"; }
[ "$(as_role aws sts get-caller-identity --query Arn --output text)" = "arn:aws:sts::$account:assumed-role/$role/cli-session" ] &&
  ok "get-caller-identity with the role's credentials names the assumed-role ARN"
as_role aws sts get-caller-identity --query UserId --output text | grep -qE '^AROA[A-Z2-7]{16}:cli-session$' && ok "UserId is ROLEID:session"
expect_error InvalidClientTokenId env AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" AWS_SESSION_TOKEN=not-the-token aws sts get-caller-identity
expect_error InvalidClientTokenId env AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" aws sts get-caller-identity
expect_error AccessDenied as_role aws sts get-session-token

expect_error AccessDenied aws sts assume-role --role-arn "arn:aws:iam::$account:role/no-such-role" --role-session-name cli-session
expect_error ValidationError aws sts assume-role --role-arn "$role_arn" --role-session-name cli-session --duration-seconds 7200
expect_error ValidationError aws sts assume-role --role-arn "$role_arn" --role-session-name 'has space'

read -r tak tsk ttoken < <(aws sts get-session-token --duration-seconds 900 --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
AWS_ACCESS_KEY_ID=$tak AWS_SECRET_ACCESS_KEY=$tsk AWS_SESSION_TOKEN=$ttoken aws ec2 describe-regions --query 'length(Regions)' --output text | grep -qE '^[1-9]' &&
  ok "get-session-token's credentials work on EC2"
[ "$(AWS_ACCESS_KEY_ID=$tak AWS_SECRET_ACCESS_KEY=$tsk AWS_SESSION_TOKEN=$ttoken aws sts get-caller-identity --query Arn --output text)" = "arn:aws:iam::$account:root" ] &&
  ok "get-session-token's credentials act as root"

# The role gone, its sessions end (within the key cache's few seconds).
aws iam delete-role --role-name "$role" && ok "delete-role"
for _ in $(seq 1 20); do as_role aws sts get-caller-identity >/dev/null 2>&1 || break; sleep 0.5; done
expect_error AuthFailure as_role aws sts get-caller-identity

echo "sts-cli: $pass passed, 0 failed"
