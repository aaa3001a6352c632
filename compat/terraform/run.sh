#!/usr/bin/env bash
# init (provider from the local filesystem mirror), apply, a second plan that must show no changes, destroy.
set -euo pipefail
: "${AWS_ENDPOINT_URL:?}" "${IMAGE_ID:?}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/main.tf" "$work/"
cd "$work"

# The provider comes from a filesystem mirror on the machine (no registry access): find it.
provider=$(find / -xdev -path /proc -prune -o -name 'terraform-provider-aws_v5.100.0*' -print 2>/dev/null | head -n1)
[ -n "$provider" ] || { echo "terraform-provider-aws 5.100.0 not found on this machine" >&2; exit 1; }
mirror=${provider%/registry.terraform.io/*}
cat > "$work/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
ssh-keygen -q -t ed25519 -N '' -f "$work/id" -C tf-key
vars=(-var "endpoint=$AWS_ENDPOINT_URL" -var "image_id=$IMAGE_ID" -var "public_key=$(cat "$work/id.pub")")

terraform init -no-color >/dev/null
echo "ok - terraform init (mirror $mirror)"
terraform apply -no-color -auto-approve "${vars[@]}"
id=$(terraform output -raw instance_id)
echo "ok - terraform apply: $id $(terraform output -raw private_ip) $(terraform output -raw private_dns)"
set +e
terraform plan -no-color -detailed-exitcode "${vars[@]}" > plan.txt
rc=$?
set -e
grep -E 'No changes|Plan:' plan.txt || true
if [ $rc -ne 0 ]; then cat plan.txt; echo "not ok - second plan is not empty (exit $rc)" >&2; exit 1; fi
echo "ok - second plan: no changes"
terraform destroy -no-color -auto-approve "${vars[@]}"
echo "ok - terraform destroy"
echo "terraform: 4 passed, 0 failed"
