#!/bin/sh
# The function's answer comes from the layer's module; the layer version is the first of tf-layer.
set -eu
echo "$TF_OUT_layered_result" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r == {"greeting": "hello tf from a layer", "function": "tf-layered"}, r
'
case "$TF_OUT_layer_version_arn" in arn:aws:lambda:us-east-1:*:layer:tf-layer:[0-9]*) ;; *) echo "unexpected layer version arn $TF_OUT_layer_version_arn" >&2; exit 1 ;; esac
