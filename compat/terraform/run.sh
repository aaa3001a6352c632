#!/usr/bin/env bash
# run.sh CONFIG: CONFIG/prepare*.sh in the working directory, init (provider from the local filesystem mirror) over
# every CONFIG/*.tf, apply, CONFIG/check*.sh (with the outputs in TF_OUT_*), a second plan that must show no
# changes, destroy.
set -euo pipefail
: "${AWS_ENDPOINT_URL:?}" "${IMAGE_ID:?}"
config=${1:?usage: run.sh CONFIG (instance, vpc, lambda, longtail, identity)}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/$config"/*.tf "$work/"
cd "$work"
for f in "$here/$config"/prepare*.sh; do if [ -x "$f" ]; then "$f"; fi; done

# The provider comes from a filesystem mirror on the machine (no registry access): find it, where mirrors usually are
# first, then anywhere (the first found ends the walk: a walk of the whole disk takes seconds, five configurations at once).
# (find fails when a file vanishes under it while it walks, as other programs' temp files do: what it found counts.)
provider=$( (find /opt /usr/local /usr/share "${HOME:-/root}" / -xdev -path /proc -prune -o -name 'terraform-provider-aws_v5.100.0*' -print -quit 2>/dev/null || true) | head -n1)
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
# Every output at once (one `terraform output`, not one per output: each is a process of its own), as TF_OUT_NAME for
# the checks: a string as it is (what `terraform output -raw` prints), anything else as JSON.
terraform output -json > outputs.json
echo "ok - terraform apply: $(python3 -c 'import json; print(" ".join(k + " = " + json.dumps(v["value"]) for k, v in json.load(open("outputs.json")).items()))')"
eval "$(python3 -c 'import json, shlex
for k, v in json.load(open("outputs.json")).items():
    x = v["value"]
    print(f"export TF_OUT_{k}={shlex.quote(x if isinstance(x, str) else json.dumps(x))}")')"
for f in "$here/$config"/check*.sh; do if [ -x "$f" ]; then "$f"; echo "ok - $config/${f##*/}"; fi; done
set +e
terraform plan -no-color -detailed-exitcode "${vars[@]}" > plan.txt
rc=$?
set -e
grep -E 'No changes|Plan:' plan.txt || true
if [ $rc -ne 0 ]; then cat plan.txt; echo "not ok - second plan is not empty (exit $rc)" >&2; exit 1; fi
echo "ok - second plan: no changes"
terraform destroy -no-color -auto-approve "${vars[@]}"
echo "ok - terraform destroy"
echo "terraform $config: passed"
