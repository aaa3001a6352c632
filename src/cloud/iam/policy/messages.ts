/** MalformedPolicyDocument's messages, in AWS's words (IAM's answers to CreatePolicy, PutRolePolicy, CreateRole, …). */

/** A value of the document as a message quotes it (bounded: a document is hostile and may be large). */
const quote = (v: string) => (v.length > 512 ? `${v.slice(0, 512)}…` : v);

export const messages = {
  syntax: 'Syntax errors in policy.',
  version: 'Policy document must be version 2012-10-17 or greater.',
  legacy: 'The policy failed legacy parsing',
  sidUnique: 'Statement IDs (SID) in a single policy must be unique.',
  sidAlnum: 'Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*',
  noActions: 'Policy statement must contain actions.',
  noResources: 'Policy statement must contain resources.',
  vendor: 'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
  oneColon: 'Actions/Condition can contain only one colon.',
  vendorInvalid: (vendor: string) => `Vendor ${quote(vendor)} is not valid`,
  invalidAction: 'Policy has invalid action',
  resourceFormat: (r: string) => `Resource ${quote(r)} must be in ARN format or "*".`,
  resourceVendor: 'Resource vendor must be fully qualified and cannot contain regexes.',
  partition: (partition: string, arn: string) => `Partition "${quote(partition)}" is not valid for resource "${quote(arn)}".`,
  iamRegion: (r: string) => `IAM resource ${quote(r)} cannot contain region information.`,
  principalInIdentity: 'Policy document should not specify a principal.',
  missingPrincipal: 'Missing required field Principal',
  prohibited: (field: string) => `Has prohibited field ${field}`,
  invalidPrincipal: (type: string, value: string) => `Invalid principal in policy: "${type}":"${quote(value)}"`,
  noPrincipals: 'Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!',
  trustActions: 'AssumeRole policy may only specify STS AssumeRole actions.',
} as const;
