# What the AWS CLI scripts in compat/ share (sourced): `aws` at pcloud's endpoint, TAP-style ok/fail, expect_error.
# The CLI's program itself where pyenv provides it: its shim runs `pyenv exec` first, most of a second per call on a
# busy host; the program and its Python are the same.
aws_bin=$(pyenv which aws 2>/dev/null || command -v aws)
aws() { "$aws_bin" --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 "$@"; }
pass=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }
expect_error() { # expect_error CODE cmd...
  local code=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected $code, got success: $out"; fi
  grep -q "($code)" <<<"$out" || fail "expected $code, got: $out"
  ok "error $code"
}
