# What the AWS CLI scripts in compat/ share (sourced): `aws` at pcloud's endpoint, TAP-style ok/fail, expect_error.
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 "$@"; }
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
