"""boto3, unchanged, against pcloud: the calls a Python user makes, and the errors they see."""
import base64
import os
import sys
import time

import urllib.error
import uuid
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.exceptions

IMAGE_ID = os.environ["IMAGE_ID"]
TOKEN = f"boto3-{uuid.uuid4()}"  # a token is remembered (with its reservation) while its instances are visible
NAME = f"boto3-{uuid.uuid4().hex[:8]}"  # terminated instances of earlier runs stay visible for an hour
ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
passed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok - {what}", flush=True)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


assert error_code(ec2.run_instances, ImageId=IMAGE_ID, InstanceType="t3.micro", MinCount=1, MaxCount=1, DryRun=True) == ("DryRunOperation", 412)
ok("DryRun is 412 DryRunOperation")

res = ec2.run_instances(
    ImageId=IMAGE_ID, InstanceType="t3.micro", MinCount=1, MaxCount=1, ClientToken=TOKEN,
    UserData="#cloud-config\nruncmd:\n  - echo boto3 > /var/tmp/boto3-marker\n",
    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": NAME}]}],
    MetadataOptions={"HttpTokens": "required"},
)
iid = res["Instances"][0]["InstanceId"]
assert res["Instances"][0]["State"]["Name"] == "pending"
assert res["Instances"][0]["MetadataOptions"]["HttpTokens"] == "required"
ok(f"run_instances {iid}")

try:
    again = ec2.run_instances(ImageId=IMAGE_ID, InstanceType="t3.micro", MinCount=1, MaxCount=1, ClientToken=TOKEN,
                              UserData="#cloud-config\nruncmd:\n  - echo boto3 > /var/tmp/boto3-marker\n",
                              TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": NAME}]}],
                              MetadataOptions={"HttpTokens": "required"})
    assert again["Instances"][0]["InstanceId"] == iid
    ok("ClientToken retry returns the same instance")
    assert error_code(ec2.run_instances, ImageId=IMAGE_ID, InstanceType="t3.small", MinCount=1, MaxCount=1, ClientToken=TOKEN)[0] == "IdempotentParameterMismatch"
    ok("ClientToken with other parameters: IdempotentParameterMismatch")

    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    ok("instance_running waiter")

    inst = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Reservations"][0]["Instances"][0]
    assert inst["InstanceId"] == iid and inst["State"] == {"Code": 16, "Name": "running"}
    assert inst["PrivateDnsName"] == "ip-" + inst["PrivateIpAddress"].replace(".", "-") + ".ec2.internal"
    ok("describe_instances by tag")

    status = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
    assert status and status[0]["InstanceState"]["Name"] == "running"
    assert status[0]["InstanceStatus"]["Status"] in ("initializing", "ok")
    ok("describe_instance_status")
    ec2.get_waiter("instance_status_ok").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    status = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
    assert status[0]["InstanceStatus"] == {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
    assert status[0]["SystemStatus"]["Status"] == "ok"
    ok("instance_status_ok waiter")

    ud = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"]
    assert base64.b64decode(ud).startswith(b"#cloud-config")
    ok("userData comes back base64")

    out = ec2.get_console_output(InstanceId=iid).get("Output", "")
    assert "login:" in out or "Reached target" in out, out[-500:]
    ok("get_console_output")

    paginator = ec2.get_paginator("describe_instances")
    seen = [i["InstanceId"] for page in paginator.paginate(PaginationConfig={"PageSize": 5}) for r in page["Reservations"] for i in r["Instances"]]
    assert iid in seen
    ok("describe_instances paginator")

    for bad, code in [("i-123", "InvalidInstanceID.Malformed"), ("i-0123456789abcdef0", "InvalidInstanceID.NotFound")]:
        assert error_code(ec2.terminate_instances, InstanceIds=[bad])[0] == code
    ok("bad ids")

    bad = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong")
    assert error_code(bad.describe_regions) == ("AuthFailure", 401)
    ok("bad signature: 401 AuthFailure")

    # botocore refuses unknown operations client-side: sign one by hand.
    req = botocore.awsrequest.AWSRequest(method="POST", url=os.environ["AWS_ENDPOINT_URL"] + "/", data="Action=FlyToTheMoon&Version=2016-11-15",
                                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(boto3.Session().get_credentials(), "ec2", "us-east-1").add_auth(req)
    try:
        urllib.request.urlopen(urllib.request.Request(req.url, data=req.body.encode() if isinstance(req.body, str) else req.body, headers=dict(req.headers), method="POST"))
        raise AssertionError("unknown action succeeded")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 400 and "<Code>InvalidAction</Code>" in body, body
    ok("unknown action: 400 InvalidAction")
except BaseException:
    ec2.terminate_instances(InstanceIds=[iid])  # leave nothing behind when an assertion fails
    raise

ec2.terminate_instances(InstanceIds=[iid])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
ok("terminate + instance_terminated waiter")

print(f"boto3: {passed} passed, 0 failed")
