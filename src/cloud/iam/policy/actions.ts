/**
 * The actions a policy may name for the services this cloud serves (ec2, lambda, iam, sts): every operation of their
 * models (the aws-sdk JSON the wire reads too) plus the actions IAM has that are no operation (lambda:InvokeFunction,
 * iam:PassRole, sts:TagSession, …). Actions of other services are accepted as written: real configurations carry them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const MODELS: readonly [prefix: string, uid: string][] = [
  ['ec2', 'ec2-2016-11-15'], ['lambda', 'lambda-2015-03-31'], ['iam', 'iam-2010-05-08'], ['sts', 'sts-2011-06-15'],
];

/** Actions that are no operation of the models (permissions only, or operations the models here predate). */
const EXTRA: readonly string[] = [
  'lambda:InvokeFunction', 'lambda:InvokeFunctionUrl', 'lambda:EnableReplication', 'lambda:DisableReplication',
  'lambda:GetFunctionRecursionConfig', 'lambda:PutFunctionRecursionConfig', 'lambda:ListTags',
  'iam:PassRole', 'iam:GetAccountEmailAddress', 'iam:GetAccountName', 'iam:GetCloudFrontPublicKey',
  'iam:ListCloudFrontPublicKeys', 'iam:UpdateCloudFrontPublicKey', 'iam:UploadCloudFrontPublicKey',
  'iam:DeleteCloudFrontPublicKey', 'iam:ListSTSRegionalEndpointsStatus', 'iam:GetServiceLastAccessedDetailsWithEntities',
  'iam:ListOrganizationsFeatures', 'iam:EnableOrganizationsRootCredentialsManagement',
  'iam:DisableOrganizationsRootCredentialsManagement', 'iam:EnableOrganizationsRootSessions',
  'iam:DisableOrganizationsRootSessions', 'iam:GetMFADevice',
  'sts:TagSession', 'sts:SetSourceIdentity', 'sts:SetContext', 'sts:GetServiceBearerToken', 'sts:AssumeRoot',
  'sts:GetWebIdentityToken', 'sts:GetDelegatedAccessToken',
  'ec2:CreateNetworkInterfacePermission', 'ec2:DescribeInstanceEventNotificationAttributes',
  'ec2:SendSpotInstanceInterruptions', 'ec2:CreateCoipPoolPermission', 'ec2:DeleteCoipPoolPermission',
  'ec2:GetResourcePolicy', 'ec2:PutResourcePolicy', 'ec2:DeleteResourcePolicy',
  'ec2:AssociateVerifiedAccessInstanceWebAcl', 'ec2:DisassociateVerifiedAccessInstanceWebAcl',
  'ec2:DescribeVerifiedAccessInstanceWebAclAssociations', 'ec2:GetVerifiedAccessInstanceWebAcl',
  'ec2:ModifyVpcEndpointServicePayerResponsibility', 'ec2:DescribeCapacityBlockOfferings',
  'ec2:DescribeInstanceTopology', 'ec2:DescribeLockedSnapshots', 'ec2:DescribeSecurityGroupVpcAssociations',
];

let catalogue: Map<string, Set<string>> | undefined;

/** The catalogue: lower-case action names by lower-case service prefix (built once, on first use). */
function load(): Map<string, Set<string>> {
  if (catalogue) return catalogue;
  const byService = new Map<string, Set<string>>();
  for (const [prefix, uid] of MODELS) {
    const model = require(`aws-sdk/apis/${uid}.min.json`) as { operations: Record<string, unknown> };
    byService.set(prefix, new Set(Object.keys(model.operations).map((o) => o.toLowerCase())));
  }
  for (const a of EXTRA) {
    const [prefix, name] = a.toLowerCase().split(':') as [string, string];
    byService.get(prefix)!.add(name);
  }
  return (catalogue = byService);
}

/** Whether pcloud serves this service prefix (its actions are checked against the catalogue). */
export const servedService = (prefix: string) => load().has(prefix.toLowerCase());

/**
 * Whether a policy may name `action` (`service:Name`, any case): any action of a service this cloud does not serve,
 * any pattern with a wildcard, and the catalogue's actions of the ones it does.
 */
export function knownAction(action: string): boolean {
  const colon = action.indexOf(':');
  if (colon < 0) return action === '*';
  const names = load().get(action.slice(0, colon).toLowerCase());
  if (!names) return true;
  const name = action.slice(colon + 1);
  if (name.includes('*') || name.includes('?')) return true;
  return names.has(name.toLowerCase());
}

/** Every action of a served service, as `service:Name` in lower case (for tests and tooling). */
export function catalogueActions(prefix: string): readonly string[] {
  return [...(load().get(prefix.toLowerCase()) ?? [])].map((n) => `${prefix.toLowerCase()}:${n}`);
}

/** Operations whose IAM action has another name (AWS's Lambda permissions reference); every other one is its own. */
const ACTION_OF = new Map([
  ['lambda:invoke', 'lambda:InvokeFunction'],
  ['lambda:invokewithresponsestream', 'lambda:InvokeFunction'],
  ['lambda:getlayerversionbyarn', 'lambda:GetLayerVersion'],
]);

/** The IAM action a request for `operation` of the service `prefix` is authorized as (`lambda`, `Invoke` → `lambda:InvokeFunction`). */
export function actionFor(prefix: string, operation: string): string {
  const own = `${prefix}:${operation}`;
  return ACTION_OF.get(own.toLowerCase()) ?? own;
}
