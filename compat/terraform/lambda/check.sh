#!/bin/sh
# The invocation's result (a data source, read on apply) is the handler's answer.
set -eu
echo "$TF_OUT_result" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r == {"greeting": "hello from terraform", "name": "tf", "function": "tf-hello"}, r
'
case "$TF_OUT_arn" in arn:aws:lambda:us-east-1:*:function:tf-hello) ;; *) echo "unexpected arn $TF_OUT_arn" >&2; exit 1 ;; esac
