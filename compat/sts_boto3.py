"""boto3, unchanged, against pcloud's STS: assume a role and act as it with the temporary credentials it returns."""
import json
import os
import sys
import uuid

import boto3
import botocore.exceptions

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
sts = boto3.client("sts", endpoint_url=ENDPOINT, region_name="us-east-1")
iam = boto3.client("iam", endpoint_url=ENDPOINT, region_name="us-east-1")
passed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok - {what}", flush=True)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


me = sts.get_caller_identity()
account = me["Account"]
assert me["Arn"] == f"arn:aws:iam::{account}:root", me
ok("get_caller_identity as root")

role = f"sts-boto3-{uuid.uuid4().hex[:8]}"
trust = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"sts:ExternalId": "boto3-ext"}}}]}
arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)["Role"]["Arn"]
try:
    assert error_code(sts.assume_role, RoleArn=arn, RoleSessionName="boto3") == "AccessDenied"
    ok("assume_role without the ExternalId the trust policy asks for: AccessDenied")
    got = sts.assume_role(RoleArn=arn, RoleSessionName="boto3", ExternalId="boto3-ext", DurationSeconds=7200)
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"], creds
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/boto3", got
    ok(f"assume_role: {creds['AccessKeyId']} until {creds['Expiration'].isoformat()}")
    as_role = boto3.client("sts", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                           aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    who = as_role.get_caller_identity()
    assert who["Arn"] == got["AssumedRoleUser"]["Arn"] and who["UserId"] == got["AssumedRoleUser"]["AssumedRoleId"], who
    ok("get_caller_identity with the session's credentials names the assumed role")
    assert error_code(as_role.get_session_token) == "AccessDenied"
    ok("get_session_token with session credentials: AccessDenied")
    assert error_code(sts.assume_role, RoleArn=arn, RoleSessionName="boto3", ExternalId="boto3-ext", DurationSeconds=7201) == "ValidationError"
    ok("a duration past the role's MaxSessionDuration: ValidationError")
finally:
    iam.delete_role(RoleName=role)

print(f"sts-boto3: {passed} passed, 0 failed")
sys.exit(0)
