#!/usr/bin/env bash
# The AWS CLI's iam and sts commands, unchanged, against pcloud: a user and its access key (signing as the user at
# once, refused once inactive), a role whose trust policy round-trips, an instance profile with it, conflicts, the
# account summary; then `pcloud account create` while the server runs, its key taken at once.
# Needs AWS_* from the environment and PCLOUD_TEST_DATA (the server's data dir); run from the checkout.
set -euo pipefail
: "${AWS_ENDPOINT_URL:?}" "${PCLOUD_TEST_DATA:?}"
. "$(dirname "$0")/cli-lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run=$(date +%s%N | tail -c 9)
user=cli-user-$run role=cli-role-$run profile=cli-profile-$run

account=$(aws sts get-caller-identity --query Account --output text)
[ "$(aws iam get-user --query User.Arn --output text)" = "arn:aws:iam::$account:root" ] && ok "get-user as root"

arn=$(aws iam create-user --user-name "$user" --path /cli/ --tags Key=team,Value=blue --query User.Arn --output text)
[ "$arn" = "arn:aws:iam::$account:user/cli/$user" ] && ok "create-user"
[ "$(aws iam get-user --user-name "$user" --query 'User.Tags[0].Value' --output text)" = blue ] && ok "get-user with its tags"
aws iam list-users --path-prefix /cli/ --query 'Users[].UserName' --output text | grep -qw "$user" && ok "list-users --path-prefix"
expect_error EntityAlreadyExists aws iam create-user --user-name "$user"
expect_error ValidationError aws iam create-user --user-name 'no/slashes'

read -r kid secret < <(aws iam create-access-key --user-name "$user" --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
[[ $kid == AKIA* ]] && ok "create-access-key: $kid"
as_user() { AWS_ACCESS_KEY_ID=$kid AWS_SECRET_ACCESS_KEY=$secret aws "$@"; }
[ "$(as_user sts get-caller-identity --query Arn --output text)" = "$arn" ] && ok "sts get-caller-identity with the user's key says the user"
[ "$(aws iam list-access-keys --user-name "$user" --query 'AccessKeyMetadata[0].Status' --output text)" = Active ] && ok "list-access-keys"
[ "$(aws iam get-access-key-last-used --access-key-id "$kid" --query AccessKeyLastUsed.ServiceName --output text)" = sts ] && ok "get-access-key-last-used"
aws iam update-access-key --user-name "$user" --access-key-id "$kid" --status Inactive && ok "update-access-key Inactive"
if as_user sts get-caller-identity >/dev/null 2>&1; then fail "an inactive key still signs"; fi
ok "an inactive key is refused at once"
expect_error DeleteConflict aws iam delete-user --user-name "$user"
aws iam delete-access-key --user-name "$user" --access-key-id "$kid" && ok "delete-access-key"
aws iam delete-user --user-name "$user" && ok "delete-user"
expect_error NoSuchEntity aws iam get-user --user-name "$user"

cat > "$tmp/trust.json" <<'JSON'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}
JSON
aws iam create-role --role-name "$role" --assume-role-policy-document "file://$tmp/trust.json" --description 'cli role' >/dev/null && ok "create-role"
aws iam get-role --role-name "$role" --query Role.AssumeRolePolicyDocument --output json > "$tmp/got.json"
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$tmp/trust.json" "$tmp/got.json" && ok "get-role round-trips the trust policy"
aws iam update-role --role-name "$role" --max-session-duration 7200 && ok "update-role"
[ "$(aws iam get-role --role-name "$role" --query Role.MaxSessionDuration --output text)" = 7200 ] && ok "max session duration"
expect_error MalformedPolicyDocument aws iam create-role --role-name "$role-bad" --assume-role-policy-document '{"Statement":'
aws iam list-roles --query 'Roles[].RoleName' --output text | grep -qw "$role" && ok "list-roles"

aws iam create-instance-profile --instance-profile-name "$profile" >/dev/null && ok "create-instance-profile"
aws iam add-role-to-instance-profile --instance-profile-name "$profile" --role-name "$role" && ok "add-role-to-instance-profile"
[ "$(aws iam get-instance-profile --instance-profile-name "$profile" --query 'InstanceProfile.Roles[0].RoleName' --output text)" = "$role" ] && ok "get-instance-profile has the role"
[ "$(aws iam list-instance-profiles-for-role --role-name "$role" --query 'InstanceProfiles[0].InstanceProfileName' --output text)" = "$profile" ] && ok "list-instance-profiles-for-role"
expect_error LimitExceeded aws iam add-role-to-instance-profile --instance-profile-name "$profile" --role-name "$role"
expect_error DeleteConflict aws iam delete-role --role-name "$role"
expect_error DeleteConflict aws iam delete-instance-profile --instance-profile-name "$profile"
aws iam remove-role-from-instance-profile --instance-profile-name "$profile" --role-name "$role" && ok "remove-role-from-instance-profile"
aws iam delete-instance-profile --instance-profile-name "$profile" && ok "delete-instance-profile"
aws iam delete-role --role-name "$role" && ok "delete-role"

[ "$(aws iam get-account-summary --query SummaryMap.AccessKeysPerUserQuota --output text)" = 2 ] && ok "get-account-summary"
[ "$(aws iam list-account-aliases --query 'length(AccountAliases)' --output text)" = 0 ] && ok "list-account-aliases"

out=$(node dist/src/cli/main.js account create --data "$PCLOUD_TEST_DATA")
new=$(sed -n 's/^# account \([0-9]\{12\}\)$/\1/p' <<<"$out")
nkid=$(sed -n 's/^aws_access_key_id = //p' <<<"$out")
nsecret=$(sed -n 's/^aws_secret_access_key = //p' <<<"$out")
[ -n "$new" ] && [ "$new" != "$account" ] && ok "pcloud account create: $new"
[ "$(AWS_ACCESS_KEY_ID=$nkid AWS_SECRET_ACCESS_KEY=$nsecret aws sts get-caller-identity --query Account --output text)" = "$new" ] && ok "the running server takes the new account's key at once"
node dist/src/cli/main.js account list --data "$PCLOUD_TEST_DATA" | grep -q "^$new	" && ok "pcloud account list"

echo "aws-cli-iam: $pass passed, 0 failed"
