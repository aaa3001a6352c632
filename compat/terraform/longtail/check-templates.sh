#!/usr/bin/env bash
# After apply: the instance came from the template (its type, key, metadata options and the aws:ec2launchtemplate
# tags), with the instance's own Name over the template's.
set -euo pipefail
: "${TF_OUT_lt_instance_id:?}" "${TF_OUT_lt_template_id:?}" "${AWS_ENDPOINT_URL:?}"
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 --output json "$@"; }
inst=$(aws ec2 describe-instances --instance-ids "$TF_OUT_lt_instance_id")
python3 - "$inst" "$TF_OUT_lt_template_id" <<'PY'
import json, sys
i = json.loads(sys.argv[1])["Reservations"][0]["Instances"][0]
tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
want = {"Name": "lt-instance", "suite": "longtail", "aws:ec2launchtemplate:id": sys.argv[2], "aws:ec2launchtemplate:version": "1"}
assert all(tags.get(k) == v for k, v in want.items()), tags
assert i["InstanceType"] == "t3.micro", i["InstanceType"]
assert i["KeyName"] == "lt-key", i.get("KeyName")
assert i["MetadataOptions"]["HttpTokens"] == "required", i["MetadataOptions"]
assert i["MetadataOptions"]["HttpPutResponseHopLimit"] == 2, i["MetadataOptions"]
PY
ud=$(aws ec2 describe-instance-attribute --instance-id "$TF_OUT_lt_instance_id" --attribute userData)
python3 -c 'import base64, json, sys; d = base64.b64decode(json.loads(sys.argv[1])["UserData"]["Value"]).decode(); assert "from-launch-template" in d, d' "$ud"
