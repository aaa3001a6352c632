/**
 * The AWS managed policies' data (src/cloud/iam/managed/index.ts serves it), sorted by name: AWS's published
 * documents with their default version and its date (as AWS's GetPolicyVersion answered them), AWS's policy ids and
 * creation dates as AWS's ListPolicies answers show them. Where no listing with the id was found, `id` is left out and
 * index.ts derives a stable ANPA… id from the name (AmazonSSMManagedInstanceCore, AWSLambda_ReadOnlyAccess,
 * CloudWatchAgentServerPolicy); their creation dates, like those of the 2015 policies other than AdministratorAccess,
 * ReadOnlyAccess and AWSLambdaRole, are as AWS is remembered to list them, not checked against a listing.
 *
 * ReadOnlyAccess is AWS's v87 cut down: AWS's one statement lists read actions of every AWS service (about 70 KB);
 * here it keeps only those of ec2, iam, lambda, logs, s3 and sts, the services pcloud serves or real configs name.
 */

export interface ManagedSource {
  name: string;
  path: string;
  /** AWS's ANPA… id; absent where none was found (index.ts derives one). */
  id?: string;
  description: string;
  versionId: string;
  createDate: string;
  updateDate: string;
  document: unknown;
}

export const MANAGED: readonly ManagedSource[] = [
  {
    name: "AdministratorAccess", path: "/", id: "ANPAIWMBCKSKIEE64ZLYK", versionId: "v1",
    description: "Provides full access to AWS services and resources.",
    createDate: "2015-02-06T18:39:46Z", updateDate: "2015-02-06T18:39:46Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": "*",
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "AmazonEC2FullAccess", path: "/", id: "ANPAI3VAJF5ZCRZ7MCQE6", versionId: "v5",
    description: "Provides full access to Amazon EC2 via the AWS Management Console.",
    createDate: "2015-02-06T18:40:15Z", updateDate: "2018-11-27T02:16:56Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Action": "ec2:*",
          "Effect": "Allow",
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": "elasticloadbalancing:*",
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": "cloudwatch:*",
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": "autoscaling:*",
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": "iam:CreateServiceLinkedRole",
          "Resource": "*",
          "Condition": {
            "StringEquals": {
              "iam:AWSServiceName": [
                "autoscaling.amazonaws.com",
                "ec2scheduled.amazonaws.com",
                "elasticloadbalancing.amazonaws.com",
                "spot.amazonaws.com",
                "spotfleet.amazonaws.com",
                "transitgateway.amazonaws.com"
              ]
            }
          }
        }
      ]
    },
  },
  {
    name: "AmazonEC2ReadOnlyAccess", path: "/", id: "ANPAIGDT4SV4GSETWTBZK", versionId: "v2",
    description: "Provides read only access to Amazon EC2 via the AWS Management Console.",
    createDate: "2015-02-06T18:40:17Z", updateDate: "2024-02-14T15:17:04Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "EC2",
          "Effect": "Allow",
          "Action": [
            "ec2:Describe*",
            "ec2:Get*"
          ],
          "Resource": "*"
        },
        {
          "Sid": "ELB",
          "Effect": "Allow",
          "Action": "elasticloadbalancing:Describe*",
          "Resource": "*"
        },
        {
          "Sid": "Cloudwatch",
          "Effect": "Allow",
          "Action": [
            "cloudwatch:ListMetrics",
            "cloudwatch:GetMetricStatistics",
            "cloudwatch:Describe*"
          ],
          "Resource": "*"
        },
        {
          "Sid": "Autoscaling",
          "Effect": "Allow",
          "Action": "autoscaling:Describe*",
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "AmazonS3FullAccess", path: "/", id: "ANPAIFIR6V6BVTRAHWINE", versionId: "v2",
    description: "Provides full access to all buckets via the AWS Management Console.",
    createDate: "2015-02-06T18:40:58Z", updateDate: "2021-09-27T20:16:37Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "s3:*",
            "s3-object-lambda:*"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "AmazonS3ReadOnlyAccess", path: "/", id: "ANPAIZTJ4DXE7G6AGAE6M", versionId: "v3",
    description: "Provides read only access to all buckets via the AWS Management Console.",
    createDate: "2015-02-06T18:40:59Z", updateDate: "2023-08-10T21:31:39Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "s3:Get*",
            "s3:List*",
            "s3:Describe*",
            "s3-object-lambda:Get*",
            "s3-object-lambda:List*"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "AmazonSSMManagedInstanceCore", path: "/", versionId: "v2",
    description: "The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.",
    createDate: "2019-03-15T17:22:12Z", updateDate: "2019-05-23T16:54:21Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "ssm:DescribeAssociation",
            "ssm:GetDeployablePatchSnapshotForInstance",
            "ssm:GetDocument",
            "ssm:DescribeDocument",
            "ssm:GetManifest",
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:ListAssociations",
            "ssm:ListInstanceAssociations",
            "ssm:PutInventory",
            "ssm:PutComplianceItems",
            "ssm:PutConfigurePackageResult",
            "ssm:UpdateAssociationStatus",
            "ssm:UpdateInstanceAssociationStatus",
            "ssm:UpdateInstanceInformation"
          ],
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": [
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel"
          ],
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": [
            "ec2messages:AcknowledgeMessage",
            "ec2messages:DeleteMessage",
            "ec2messages:FailMessage",
            "ec2messages:GetEndpoint",
            "ec2messages:GetMessages",
            "ec2messages:SendReply"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "AWSLambda_FullAccess", path: "/", id: "ANPAZKAPJZG4OXQPYWZ5D", versionId: "v5",
    description: "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
    createDate: "2020-11-17T21:14:08Z", updateDate: "2026-02-11T22:18:56Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Action": [
            "cloudformation:DescribeStacks",
            "cloudformation:ListStackResources",
            "cloudwatch:ListMetrics",
            "cloudwatch:GetMetricData",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "kms:DescribeKey",
            "kms:ListAliases",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListRolePolicies",
            "iam:ListRoles",
            "lambda:*",
            "logs:DescribeLogGroups",
            "states:DescribeStateMachine",
            "states:ListStateMachines",
            "tag:GetResources",
            "xray:GetTraceSummaries",
            "xray:BatchGetTraces"
          ],
          "Resource": "*",
          "Effect": "Allow"
        },
        {
          "Action": "iam:PassRole",
          "Resource": "*",
          "Effect": "Allow",
          "Condition": {
            "StringEquals": {
              "iam:PassedToService": "lambda.amazonaws.com"
            }
          }
        },
        {
          "Action": [
            "logs:DescribeLogStreams",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
            "logs:StartLiveTail",
            "logs:StopLiveTail"
          ],
          "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*",
          "Effect": "Allow"
        },
        {
          "Action": "iam:CreateServiceLinkedRole",
          "Resource": "arn:aws:iam::*:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda",
          "Effect": "Allow",
          "Condition": {
            "StringEquals": {
              "iam:AWSServiceName": "lambda.amazonaws.com"
            }
          }
        }
      ]
    },
  },
  {
    name: "AWSLambda_ReadOnlyAccess", path: "/", versionId: "v2",
    description: "Grants read-only access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
    createDate: "2020-11-17T21:14:08Z", updateDate: "2023-07-27T17:32:05Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "cloudformation:DescribeStacks",
            "cloudformation:ListStacks",
            "cloudformation:ListStackResources",
            "cloudwatch:GetMetricData",
            "cloudwatch:ListMetrics",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "kms:ListAliases",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListRolePolicies",
            "iam:ListRoles",
            "logs:DescribeLogGroups",
            "lambda:Get*",
            "lambda:List*",
            "states:DescribeStateMachine",
            "states:ListStateMachines",
            "tag:GetResources",
            "xray:GetTraceSummaries",
            "xray:BatchGetTraces"
          ],
          "Resource": "*"
        },
        {
          "Effect": "Allow",
          "Action": [
            "logs:DescribeLogStreams",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
            "logs:StartQuery",
            "logs:StopQuery",
            "logs:DescribeQueries",
            "logs:GetLogGroupFields",
            "logs:GetLogRecord",
            "logs:GetQueryResults"
          ],
          "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"
        }
      ]
    },
  },
  {
    name: "AWSLambdaBasicExecutionRole", path: "/service-role/", id: "ANPAJNCQGXC42545SKXIK", versionId: "v1",
    description: "Provides write permissions to CloudWatch Logs.",
    createDate: "2015-04-09T15:03:43Z", updateDate: "2015-04-09T15:03:43Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "AWSLambdaRole", path: "/service-role/", id: "ANPAJX4DPCRGTC4NFDUXI", versionId: "v1",
    description: "Default policy for AWS Lambda service role.",
    createDate: "2015-02-06T18:41:28Z", updateDate: "2015-02-06T18:41:28Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "lambda:InvokeFunction"
          ],
          "Resource": [
            "*"
          ]
        }
      ]
    },
  },
  {
    name: "AWSLambdaVPCAccessExecutionRole", path: "/service-role/", id: "ANPAJVTME3YLVNL72YR2K", versionId: "v3",
    description: "Provides minimum permissions for a Lambda function to execute while accessing a resource within a VPC - create, describe, delete network interfaces and write permissions to CloudWatch Logs. ",
    createDate: "2016-02-11T23:15:26Z", updateDate: "2024-01-05T22:38:26Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "AWSLambdaVPCAccessExecutionPermissions",
          "Effect": "Allow",
          "Action": [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "CloudWatchAgentServerPolicy", path: "/", versionId: "v3",
    description: "Permissions required to use AmazonCloudWatchAgent on servers",
    createDate: "2017-09-13T00:00:35Z", updateDate: "2024-02-06T16:37:37Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "CWACloudWatchServerPermissions",
          "Effect": "Allow",
          "Action": [
            "cloudwatch:PutMetricData",
            "ec2:DescribeVolumes",
            "ec2:DescribeTags",
            "logs:PutLogEvents",
            "logs:PutRetentionPolicy",
            "logs:DescribeLogStreams",
            "logs:DescribeLogGroups",
            "logs:CreateLogStream",
            "logs:CreateLogGroup",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries"
          ],
          "Resource": "*"
        },
        {
          "Sid": "CWASSMServerPermissions",
          "Effect": "Allow",
          "Action": [
            "ssm:GetParameter"
          ],
          "Resource": "arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*"
        }
      ]
    },
  },
  {
    name: "IAMFullAccess", path: "/", id: "ANPAI7XKCFMBPM3QQRRVQ", versionId: "v2",
    description: "Provides full access to IAM via the AWS Management Console.",
    createDate: "2015-02-06T18:40:38Z", updateDate: "2019-06-21T19:40:00Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "iam:*",
            "organizations:DescribeAccount",
            "organizations:DescribeOrganization",
            "organizations:DescribeOrganizationalUnit",
            "organizations:DescribePolicy",
            "organizations:ListChildren",
            "organizations:ListParents",
            "organizations:ListPoliciesForTarget",
            "organizations:ListRoots",
            "organizations:ListPolicies",
            "organizations:ListTargetsForPolicy"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "IAMReadOnlyAccess", path: "/", id: "ANPAJKSO7NDY4T57MWDSQ", versionId: "v4",
    description: "Provides read only access to IAM via the AWS Management Console.",
    createDate: "2015-02-06T18:40:39Z", updateDate: "2018-01-25T19:11:27Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "iam:GenerateCredentialReport",
            "iam:GenerateServiceLastAccessedDetails",
            "iam:Get*",
            "iam:List*",
            "iam:SimulateCustomPolicy",
            "iam:SimulatePrincipalPolicy"
          ],
          "Resource": "*"
        }
      ]
    },
  },
  {
    name: "PowerUserAccess", path: "/", id: "ANPAJYRXTHIB4FOVS3ZXS", versionId: "v12",
    description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
    createDate: "2015-02-06T18:39:47Z", updateDate: "2026-02-12T17:59:14Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "NotAction": [
            "iam:*",
            "organizations:*",
            "account:*"
          ],
          "Resource": "*",
          "Effect": "Allow"
        },
        {
          "Action": [
            "account:GetAccountInformation",
            "account:GetGovCloudAccountInformation",
            "account:GetPrimaryEmail",
            "account:ListRegions",
            "iam:CreateServiceLinkedRole",
            "iam:DeleteServiceLinkedRole",
            "iam:ListRoles",
            "organizations:DescribeEffectivePolicy",
            "organizations:DescribeOrganization"
          ],
          "Resource": "*",
          "Effect": "Allow"
        }
      ]
    },
  },
  {
    name: "ReadOnlyAccess", path: "/", id: "ANPAILL3HVNFSB6DCOWYQ", versionId: "v87",
    description: "Provides read-only access to AWS services and resources.",
    createDate: "2015-02-06T18:39:48Z", updateDate: "2022-05-23T20:16:18Z",
    document: {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "ec2:Describe*",
            "ec2:Get*",
            "ec2:ListSnapshotsInRecycleBin",
            "ec2:SearchLocalGatewayRoutes",
            "ec2:SearchTransitGatewayRoutes",
            "iam:Generate*",
            "iam:Get*",
            "iam:List*",
            "iam:Simulate*",
            "lambda:Get*",
            "lambda:List*",
            "logs:Describe*",
            "logs:FilterLogEvents",
            "logs:Get*",
            "logs:ListTagsLogGroup",
            "logs:StartQuery",
            "logs:StopQuery",
            "logs:TestMetricFilter",
            "s3:DescribeJob",
            "s3:Get*",
            "s3:List*",
            "sts:GetAccessKeyInfo",
            "sts:GetCallerIdentity",
            "sts:GetSessionToken"
          ],
          "Resource": "*"
        }
      ]
    },
  },
];
