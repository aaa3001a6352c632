/**
 * The state pcloud keeps: one SQLite file (WAL), every resource owned by one account. The schema's one definition:
 * after changing it, `npm run db:generate` writes the migration (src/db/migrations) that openDb applies.
 */
import { sqliteTable, text, integer, real, blob, primaryKey, index, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const accounts = sqliteTable('accounts', {
  id: text('id').primaryKey(),
  createdAt: integer('created_at').notNull(),
});

export const accessKeys = sqliteTable('access_keys', {
  accessKeyId: text('access_key_id').primaryKey(),
  secretAccessKey: text('secret_access_key').notNull(),
  accountId: text('account_id').notNull().references(() => accounts.id),
  /** The IAM user the key is of; null: the account's root. */
  userName: text('user_name'),
  /** 'Active' | 'Inactive' (UpdateAccessKey): an inactive key signs nothing. */
  status: text('status').notNull().default('Active'),
  lastUsedAt: integer('last_used_at'),
  lastUsedService: text('last_used_service'),
  lastUsedRegion: text('last_used_region'),
  createdAt: integer('created_at').notNull(),
}, (t) => [index('access_keys_user').on(t.accountId, t.userName)]);

export const images = sqliteTable('images', {
  id: text('id').primaryKey(),
  ownerId: text('owner_id').notNull(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  architecture: text('architecture').notNull(),
  platform: text('platform').notNull().default('linux'),
  bootMode: text('boot_mode').notNull().default('legacy-bios'),
  state: text('state').notNull(),
  isPublic: integer('is_public', { mode: 'boolean' }).notNull().default(true),
  /** Where the unpacked root file system lives in the storage pool. */
  rootPath: text('root_path').notNull(),
  sizeBytes: integer('size_bytes').notNull().default(0),
  source: text('source').notNull(),
  createdAt: integer('created_at').notNull(),
  /**
   * The sha256 of the image as a tar (its root and VM files), once the control plane made it for a host that lacks
   * the image (cloud/image-export.ts); hosts check what they fetch against it. Null until first asked for.
   */
  contentSha256: text('content_sha256'),
}, (t) => [uniqueIndex('images_owner_name').on(t.ownerId, t.name)]);

export const keyPairs = sqliteTable('key_pairs', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  keyType: text('key_type').notNull(),
  fingerprint: text('fingerprint').notNull(),
  publicKey: text('public_key').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [uniqueIndex('key_pairs_account_name').on(t.accountId, t.name)]);

export const vpcs = sqliteTable('vpcs', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  cidr: text('cidr').notNull(),
  isDefault: integer('is_default', { mode: 'boolean' }).notNull(),
  createdAt: integer('created_at').notNull(),
  dnsSupport: integer('dns_support', { mode: 'boolean' }).notNull().default(true),
  dnsHostnames: integer('dns_hostnames', { mode: 'boolean' }).notNull().default(false),
  addressUsageMetrics: integer('address_usage_metrics', { mode: 'boolean' }).notNull().default(false),
  /** The VXLAN network identifier joining its routers across hosts (1..16777215; null: not yet given, see vnis.ts). */
  vni: integer('vni'),
}, (t) => [uniqueIndex('vpcs_vni').on(t.vni)]);

export const subnets = sqliteTable('subnets', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  vpcId: text('vpc_id').notNull(),
  cidr: text('cidr').notNull(),
  availabilityZone: text('availability_zone').notNull(),
  isDefault: integer('is_default', { mode: 'boolean' }).notNull(),
  createdAt: integer('created_at').notNull(),
  mapPublicIp: integer('map_public_ip', { mode: 'boolean' }).notNull().default(false),
});

export const securityGroups = sqliteTable('security_groups', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  vpcId: text('vpc_id').notNull(),
  name: text('name').notNull(),
  description: text('description').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const securityGroupRules = sqliteTable('security_group_rules', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  groupId: text('group_id').notNull(),
  isEgress: integer('is_egress', { mode: 'boolean' }).notNull(),
  /** tcp, udp, icmp, or -1 for every protocol. */
  protocol: text('protocol').notNull(),
  fromPort: integer('from_port'),
  toPort: integer('to_port'),
  cidr: text('cidr'),
  refGroupId: text('ref_group_id'),
  description: text('description').notNull().default(''),
  createdAt: integer('created_at').notNull(),
}, (t) => [index('security_group_rules_group').on(t.groupId)]);

export const internetGateways = sqliteTable('internet_gateways', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  vpcId: text('vpc_id'),
  createdAt: integer('created_at').notNull(),
}, (t) => [index('internet_gateways_vpc').on(t.vpcId)]);

export const reservations = sqliteTable('reservations', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  clientToken: text('client_token'),
  /** Hash of the RunInstances parameters, to tell a retry from a different request with the same token. */
  requestHash: text('request_hash').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [uniqueIndex('reservations_token').on(t.accountId, t.clientToken)]);

export const instances = sqliteTable('instances', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  reservationId: text('reservation_id').notNull(),
  launchIndex: integer('launch_index').notNull(),
  imageId: text('image_id').notNull(),
  instanceType: text('instance_type').notNull(),
  runtime: text('runtime').notNull(),
  keyName: text('key_name'),
  state: text('state').notNull(),
  stateTransitionReason: text('state_transition_reason').notNull().default(''),
  stateReasonCode: text('state_reason_code'),
  stateReasonMessage: text('state_reason_message'),
  launchTime: integer('launch_time').notNull(),
  subnetId: text('subnet_id').notNull(),
  vpcId: text('vpc_id').notNull(),
  availabilityZone: text('availability_zone').notNull(),
  privateIp: text('private_ip').notNull(),
  publicIp: text('public_ip'),
  macAddress: text('mac_address').notNull(),
  networkInterfaceId: text('network_interface_id').notNull(),
  securityGroupIds: text('security_group_ids', { mode: 'json' }).$type<string[]>().notNull(),
  clientToken: text('client_token'),
  userData: text('user_data'),
  rootVolumeId: text('root_volume_id').notNull(),
  rootVolumeSizeGiB: integer('root_volume_size_gib').notNull(),
  /** Settings the API reads back: termination/stop protection, shutdown behaviour, credits, metadata options. */
  attributes: text('attributes', { mode: 'json' }).$type<InstanceAttributes>().notNull(),
  terminatedAt: integer('terminated_at'),
  updatedAt: integer('updated_at').notNull(),
  /** The host it is placed on (hosts.id); null: the one host of an embedded cloud, from before hosts were recorded. */
  hostId: text('host_id'),
}, (t) => [
  index('instances_account_state').on(t.accountId, t.state),
  index('instances_host_state').on(t.hostId, t.state),
  index('instances_reservation').on(t.reservationId),
  index('instances_terminated').on(t.terminatedAt),
  index('instances_account_launch').on(t.accountId, t.launchTime, t.reservationId, t.launchIndex),
]);

export interface MetadataOptions {
  httpTokens: 'optional' | 'required';
  httpPutResponseHopLimit: number;
  httpEndpoint: 'enabled' | 'disabled';
  httpProtocolIpv6: 'enabled' | 'disabled';
  instanceMetadataTags: 'enabled' | 'disabled';
}

export interface InstanceAttributes {
  disableApiTermination: boolean;
  disableApiStop: boolean;
  instanceInitiatedShutdownBehavior: 'stop' | 'terminate';
  ebsOptimized: boolean;
  monitoring: boolean;
  cpuCredits?: 'standard' | 'unlimited';
  sourceDestCheck: boolean;
  hibernation: boolean;
  metadataOptions: MetadataOptions;
}

export const tags = sqliteTable('tags', {
  accountId: text('account_id').notNull(),
  resourceId: text('resource_id').notNull(),
  resourceType: text('resource_type').notNull(),
  key: text('key').notNull(),
  value: text('value').notNull(),
}, (t) => [primaryKey({ columns: [t.resourceId, t.key] }), index('tags_account_key').on(t.accountId, t.key)]);

export const volumes = sqliteTable('volumes', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  availabilityZone: text('availability_zone').notNull(),
  sizeGiB: integer('size_gib').notNull(),
  volumeType: text('volume_type').notNull(),
  iops: integer('iops'),
  throughput: integer('throughput'),
  snapshotId: text('snapshot_id'),
  /** creating, available, in-use, deleting (AWS's volume states). */
  state: text('state').notNull(),
  instanceId: text('instance_id'),
  /** The device name the attachment asked for (/dev/sdf, /dev/xvdf): guests see virtio disks in attachment order. */
  device: text('device'),
  attachState: text('attach_state'),
  attachTime: integer('attach_time'),
  deleteOnTermination: integer('delete_on_termination', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at').notNull(),
  /**
   * The host whose pool holds its file (hosts.id); null: the one host of an embedded cloud, or made before volumes
   * recorded their host. A volume moves to the host of the instance it is attached to (cloud/volume-moves.ts).
   */
  hostId: text('host_id'),
  /** While it moves: the host taking it (hosts.id), and since when (a move older than the limit is abandoned). */
  moveTo: text('move_to'),
  moveAt: integer('move_at'),
  /** Once its host exports it for the move: the iSCSI URL over the underlay the taking host copies it from. */
  moveSource: text('move_source'),
}, (t) => [index('volumes_account').on(t.accountId), index('volumes_instance').on(t.instanceId)]);

export const snapshots = sqliteTable('snapshots', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  volumeId: text('volume_id').notNull(),
  sizeGiB: integer('size_gib').notNull(),
  description: text('description').notNull().default(''),
  state: text('state').notNull(),
  createdAt: integer('created_at').notNull(),
  /**
   * The host whose pool holds its file (hosts.id); null: the one host of an embedded cloud, or taken before snapshots
   * recorded their host. It stays there (a volume made from it is made there; DeleteSnapshot elsewhere tells it).
   */
  hostId: text('host_id'),
}, (t) => [index('snapshots_account').on(t.accountId)]);

export interface FunctionConfig {
  runtime: string;
  handler: string;
  role: string;
  description: string;
  memoryMiB: number;
  timeoutSec: number;
  environment: Record<string, string>;
  /** per-request: a process per invoke (Accept=yes); warm: one worker that serves until idle. */
  mode: 'per-request' | 'warm';
  codeSha256: string;
  codeSize: number;
  revision: string;
  /** Its layers, in order (absent: none; stored before layers existed). */
  layers?: FunctionLayer[];
}

/** A layer version a function uses: its ARN and size as FunctionConfiguration shows them, its content's address. */
export interface FunctionLayer {
  arn: string;
  codeSize: number;
  /** sha256 (hex) of the layer's zip: where its unpacked content is (kept while a function uses it, deleted or not). */
  digest: string;
  /** Its unzipped size, counted toward the function's 250 MB with its code. */
  unzippedSize: number;
}

export const functions = sqliteTable('functions', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  runtime: text('runtime').notNull(),
  handler: text('handler').notNull(),
  role: text('role').notNull(),
  description: text('description').notNull().default(''),
  memoryMiB: integer('memory_mib').notNull(),
  timeoutSec: integer('timeout_sec').notNull(),
  environment: text('environment', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  mode: text('mode').$type<'per-request' | 'warm'>().notNull(),
  codeSha256: text('code_sha256').notNull(),
  codeSize: integer('code_size').notNull(),
  revision: text('revision').notNull(),
  layers: text('layers', { mode: 'json' }).$type<FunctionLayer[]>().notNull().default([]),
  lastVersion: integer('last_version').notNull().default(0),
  urlId: text('url_id'),
  urlAuth: text('url_auth'),
  urlCreatedAt: integer('url_created_at'),
  /** PutFunctionConcurrency: at most this many executions at once (null: none reserved, the account's pool). */
  reservedConcurrency: integer('reserved_concurrency'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name] }), uniqueIndex('functions_url').on(t.urlId)]);

export const functionVersions = sqliteTable('function_versions', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  version: integer('version').notNull(),
  config: text('config', { mode: 'json' }).$type<FunctionConfig>().notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name, t.version] })]);

// Lambda aliases: a name for one of a function's versions ($LATEST or a number), optionally with a second version that
// gets a weight of the invocations; an alias may have a function URL of its own.
export const functionAliases = sqliteTable('function_aliases', {
  accountId: text('account_id').notNull(),
  functionName: text('function_name').notNull(),
  name: text('name').notNull(),
  version: text('version').notNull(),
  description: text('description').notNull().default(''),
  /** RoutingConfig.AdditionalVersionWeights: one more version and the share of invocations it gets (0..1). */
  extraVersion: text('extra_version'),
  extraWeight: real('extra_weight'),
  revision: text('revision').notNull(),
  urlId: text('url_id'),
  urlAuth: text('url_auth'),
  urlCreatedAt: integer('url_created_at'),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.functionName, t.name] }), uniqueIndex('function_aliases_url').on(t.urlId)]);

/** A statement of a function's resource policy (AddPermission), as the policy document shows it. */
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Principal: string | { AWS: string } | { Service: string };
  Action: string;
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

// Lambda resource policies (AddPermission/RemovePermission/GetPolicy): one per function and qualifier ('' unqualified).
export const functionPolicies = sqliteTable('function_policies', {
  accountId: text('account_id').notNull(),
  functionName: text('function_name').notNull(),
  qualifier: text('qualifier').notNull(),
  statements: text('statements', { mode: 'json' }).$type<PolicyStatement[]>().notNull(),
  revision: text('revision').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.functionName, t.qualifier] })]);

// Lambda layers: a counter per layer (version numbers are never reused), and each published version's metadata; the
// content is stored content-addressed by the host (src/host/layers.ts) and kept while any function uses it.
export const lambdaLayers = sqliteTable('lambda_layers', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  lastVersion: integer('last_version').notNull().default(0),
}, (t) => [primaryKey({ columns: [t.accountId, t.name] })]);

export const lambdaLayerVersions = sqliteTable('lambda_layer_versions', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  version: integer('version').notNull(),
  description: text('description').notNull().default(''),
  compatibleRuntimes: text('compatible_runtimes', { mode: 'json' }).$type<string[]>().notNull(),
  compatibleArchitectures: text('compatible_architectures', { mode: 'json' }).$type<string[]>().notNull(),
  licenseInfo: text('license_info'),
  /** sha256 of the zip: base64 (CodeSha256, as Lambda shows it) and hex (the content's address on the host). */
  codeSha256: text('code_sha256').notNull(),
  digest: text('digest').notNull(),
  codeSize: integer('code_size').notNull(),
  unzippedSize: integer('unzipped_size').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name, t.version] }), index('lambda_layer_versions_digest').on(t.digest)]);

/**
 * Deployment packages (functions' and layers' zips) by content, where several hosts share the state (PostgreSQL): a
 * host that lacks a version's code or a layer takes it from here, checks its hash, and unpacks it once
 * (functions/packages.ts). Kept while a function, a version or a layer version names it; on SQLite (one host, the
 * code unpacked where it runs) nothing is kept here.
 */
export const functionPackages = sqliteTable('function_packages', {
  /** sha256 of the zip, hex. */
  sha256: text('sha256').primaryKey(),
  zip: blob('zip', { mode: 'buffer' }).notNull(),
  size: integer('size').notNull(),
  createdAt: integer('created_at').notNull(),
});

// ---------------------------------------------------------------- launch templates (EC2)

/**
 * The launch template's data as the request gave it: RequestLaunchTemplateData's members by the model's member names
 * (never the tenant's keys), served back as ResponseLaunchTemplateData.
 */
export type LaunchTemplateData = { [member: string]: unknown };

export const launchTemplates = sqliteTable('launch_templates', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  defaultVersion: integer('default_version').notNull(),
  latestVersion: integer('latest_version').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
  /** CreateLaunchTemplate's ClientToken: the same request again answers with this template. */
  clientToken: text('client_token'),
}, (t) => [uniqueIndex('launch_templates_name').on(t.accountId, t.name)]);

export const launchTemplateVersions = sqliteTable('launch_template_versions', {
  templateId: text('template_id').notNull(),
  version: integer('version').notNull(),
  description: text('description'),
  data: text('data', { mode: 'json' }).$type<LaunchTemplateData>().notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
  /** CreateLaunchTemplateVersion's ClientToken: the same request again answers with this version. */
  clientToken: text('client_token'),
}, (t) => [primaryKey({ columns: [t.templateId, t.version] })]);


// ---------------------------------------------------------------- networking: Elastic IPs, route tables, NAT gateways

/** Elastic IPs: addresses of the public pool an account holds until it releases them, associated to one instance at most. */
export const addresses = sqliteTable('addresses', {
  allocationId: text('allocation_id').primaryKey(),
  accountId: text('account_id').notNull(),
  publicIp: text('public_ip').notNull(),
  instanceId: text('instance_id'),
  networkInterfaceId: text('network_interface_id'),
  privateIp: text('private_ip'),
  associationId: text('association_id'),
  /** The NAT gateway that holds it (its association is the gateway's, not the user's). */
  natGatewayId: text('nat_gateway_id'),
  createdAt: integer('created_at').notNull(),
}, (t) => [uniqueIndex('addresses_public_ip').on(t.publicIp), index('addresses_account').on(t.accountId), index('addresses_instance').on(t.instanceId)]);

/** Route tables: each VPC's main one (made on first use) and those the user makes. */
export const routeTables = sqliteTable('route_tables', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  vpcId: text('vpc_id').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [index('route_tables_vpc').on(t.vpcId)]);

/** A route table's routes but the local one: a destination and exactly one target. */
export const routes = sqliteTable('routes', {
  routeTableId: text('route_table_id').notNull(),
  destination: text('destination').notNull(),
  gatewayId: text('gateway_id'),
  natGatewayId: text('nat_gateway_id'),
  instanceId: text('instance_id'),
  networkInterfaceId: text('network_interface_id'),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.routeTableId, t.destination] })]);

/** Which table a subnet uses (subnetId), and which table is its VPC's main one (subnetId null, one per VPC). */
export const routeTableAssociations = sqliteTable('route_table_associations', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  vpcId: text('vpc_id').notNull(),
  routeTableId: text('route_table_id').notNull(),
  subnetId: text('subnet_id'),
  createdAt: integer('created_at').notNull(),
}, (t) => [uniqueIndex('route_table_associations_subnet').on(t.subnetId), index('route_table_associations_table').on(t.routeTableId)]);

/** NAT gateways: a subnet's SNAT for the subnets routed to it, through an Elastic IP (public) or the uplink (private). */
export const natGateways = sqliteTable('nat_gateways', {
  id: text('id').primaryKey(),
  accountId: text('account_id').notNull(),
  vpcId: text('vpc_id').notNull(),
  subnetId: text('subnet_id').notNull(),
  connectivityType: text('connectivity_type').$type<'public' | 'private'>().notNull(),
  allocationId: text('allocation_id'),
  privateIp: text('private_ip').notNull(),
  networkInterfaceId: text('network_interface_id').notNull(),
  /** pending, available, deleting, deleted (AWS's states). */
  state: text('state').notNull(),
  createdAt: integer('created_at').notNull(),
  deletedAt: integer('deleted_at'),
}, (t) => [index('nat_gateways_account').on(t.accountId)]);

// ---- IAM and STS (src/cloud/iam) ----

export const iamUsers = sqliteTable('iam_users', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  /** AIDA…: the user's unique id. */
  userId: text('user_id').notNull(),
  path: text('path').notNull().default('/'),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name] }), uniqueIndex('iam_users_id').on(t.userId)]);

export const iamRoles = sqliteTable('iam_roles', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  /** AROA…: the role's unique id. */
  roleId: text('role_id').notNull(),
  path: text('path').notNull().default('/'),
  /** The trust policy, as the client gave it (JSON text). */
  assumeRolePolicy: text('assume_role_policy').notNull(),
  description: text('description'),
  maxSessionDuration: integer('max_session_duration').notNull().default(3600),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name] }), uniqueIndex('iam_roles_id').on(t.roleId)]);

/** Customer managed policies (AWS managed ones are src/cloud/iam/managed, not rows). */
export const iamPolicies = sqliteTable('iam_policies', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  /** ANPA…: the policy's unique id. */
  policyId: text('policy_id').notNull(),
  path: text('path').notNull().default('/'),
  description: text('description'),
  defaultVersion: text('default_version').notNull(),
  /** The next version number CreatePolicyVersion gives (AWS never reuses one). */
  nextVersion: integer('next_version').notNull().default(2),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name] }), uniqueIndex('iam_policies_id').on(t.policyId)]);

export const iamPolicyVersions = sqliteTable('iam_policy_versions', {
  accountId: text('account_id').notNull(),
  policyName: text('policy_name').notNull(),
  /** 'v1', 'v2', … */
  versionId: text('version_id').notNull(),
  document: text('document').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.policyName, t.versionId] })]);

/** Managed policies (customer or AWS, by ARN) attached to a user or a role. */
export const iamAttachments = sqliteTable('iam_attachments', {
  accountId: text('account_id').notNull(),
  /** 'user' | 'role' */
  principalKind: text('principal_kind').notNull(),
  principalName: text('principal_name').notNull(),
  policyArn: text('policy_arn').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.principalKind, t.principalName, t.policyArn] }), index('iam_attachments_policy').on(t.accountId, t.policyArn)]);

/** Inline policies of a user or a role (PutUserPolicy, PutRolePolicy). */
export const iamInlinePolicies = sqliteTable('iam_inline_policies', {
  accountId: text('account_id').notNull(),
  principalKind: text('principal_kind').notNull(),
  principalName: text('principal_name').notNull(),
  policyName: text('policy_name').notNull(),
  document: text('document').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.principalKind, t.principalName, t.policyName] })]);

/** Tags of IAM resources: kind 'user' | 'role' | 'policy' | 'instance-profile', by name. */
export const iamTags = sqliteTable('iam_tags', {
  accountId: text('account_id').notNull(),
  kind: text('kind').notNull(),
  name: text('name').notNull(),
  key: text('key').notNull(),
  value: text('value').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.kind, t.name, t.key] })]);

export const iamInstanceProfiles = sqliteTable('iam_instance_profiles', {
  accountId: text('account_id').notNull(),
  name: text('name').notNull(),
  /** AIPA…: the profile's unique id. */
  profileId: text('profile_id').notNull(),
  path: text('path').notNull().default('/'),
  /** Its one role (AWS allows one), if any. */
  roleName: text('role_name'),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.name] }), uniqueIndex('iam_instance_profiles_id').on(t.profileId), index('iam_instance_profiles_role').on(t.accountId, t.roleName)]);

/** An instance's instance profile (RunInstances IamInstanceProfile, AssociateIamInstanceProfile). */
export const iamProfileAssociations = sqliteTable('iam_profile_associations', {
  /** iip-assoc-… */
  associationId: text('association_id').primaryKey(),
  accountId: text('account_id').notNull(),
  instanceId: text('instance_id').notNull(),
  profileName: text('profile_name').notNull(),
  /** 'associating' | 'associated' | 'disassociating' | 'disassociated' */
  state: text('state').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [index('iam_profile_associations_instance').on(t.instanceId)]);

/**
 * Temporary credentials (STS AssumeRole, GetSessionToken; instance profiles' and functions' role sessions): an access
 * key with its secret and session token, valid until expiresAt, acting as a role session or as the user/root that
 * asked for a session token.
 */
export const stsSessions = sqliteTable('sts_sessions', {
  /** ASIA…, as AWS's temporary keys. */
  accessKeyId: text('access_key_id').primaryKey(),
  secretAccessKey: text('secret_access_key').notNull(),
  /** SHA-256 (hex) of the session token: the token itself is only ever given to the one who asked. */
  tokenHash: text('token_hash').notNull(),
  accountId: text('account_id').notNull(),
  /** 'assumed-role' | 'user' | 'root' */
  kind: text('kind').notNull(),
  /** assumed-role: the role's name; user: the user's name. */
  name: text('name'),
  /** assumed-role: the RoleSessionName (an instance id for an instance profile, the function name for Lambda). */
  sessionName: text('session_name'),
  /** The role's id (AROA…) or the user's (AIDA…) when minted: a role or user deleted and made again ends the session. */
  principalId: text('principal_id'),
  /** Who it was minted for, when pcloud minted it: 'instance:i-…' or 'function:NAME'. */
  source: text('source'),
  /** Session policies (AssumeRole Policy, PolicyArns): JSON `{ policy?: string; policyArns: string[] }`. */
  sessionPolicies: text('session_policies'),
  /** Session tags (AssumeRole Tags, aws:PrincipalTag/…): JSON `[[key, value], …]`. */
  tags: text('tags'),
  expiresAt: integer('expires_at').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [index('sts_sessions_expiry').on(t.expiresAt), index('sts_sessions_source').on(t.accountId, t.source)]);

/**
 * The machines instances run on (issue 17): each registers what it offers (runtimes, vCPUs, memory) and heartbeats; an
 * embedded cloud has one, registered by `pcloud serve` itself.
 */
export const hosts = sqliteTable('hosts', {
  /** h-…, as EC2's dedicated host ids. */
  id: text('id').primaryKey(),
  /** Its hostname, unique: a host that joins again under its name is the same host. */
  name: text('name').notNull(),
  /** The availability zone it serves (a host group): Placement.AvailabilityZone picks among its hosts. */
  availabilityZone: text('availability_zone').notNull(),
  /** Its underlay address (VXLAN, iSCSI between hosts); null on an embedded cloud's one host. */
  address: text('address'),
  /** The runtimes it runs: 'container' | 'microvm' | 'q35'. */
  runtimes: text('runtimes', { mode: 'json' }).$type<string[]>().notNull(),
  /** How its VMs run: 'kvm' | 'tcg'. */
  accel: text('accel').notNull(),
  vcpus: integer('vcpus').notNull(),
  memoryMiB: integer('memory_mib').notNull(),
  /** 'available' | 'draining' | 'removed' */
  state: text('state').notNull(),
  /** The kernel's boot id when it last registered: a new one says it rebooted (and its units went with it). */
  bootId: text('boot_id'),
  heartbeatAt: integer('heartbeat_at').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [uniqueIndex('hosts_name').on(t.name)]);

/**
 * Join tokens (`pcloud host token`) and the host keys they became (`pcloud host join`): a token is good once, until it
 * expires; redeemed, it names the host that joined and holds the hash of the key that host shows the control plane
 * (fetching images). Only hashes are kept: a copy of the database joins nobody.
 */
export const hostTokens = sqliteTable('host_tokens', {
  id: text('id').primaryKey(),
  /** sha256 of the token, hex. */
  tokenHash: text('token_hash').notNull(),
  /** The zone the host serves; null: the control plane's first. */
  availabilityZone: text('availability_zone'),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  /** Once redeemed: when, by which host (its name), and sha256 of the key it was given, hex. */
  usedAt: integer('used_at'),
  hostName: text('host_name'),
  keyHash: text('key_hash'),
}, (t) => [uniqueIndex('host_tokens_token').on(t.tokenHash), uniqueIndex('host_tokens_key').on(t.keyHash)]);

/**
 * The keys the API signs its own tokens with (NextToken, IMDSv2 tokens, console URLs), one per purpose: shared through
 * the database, a token one server gave is good on every other.
 */
export const signingKeys = sqliteTable('signing_keys', {
  name: text('name').primaryKey(),
  /** The key, base64. */
  key: text('key').notNull(),
  createdAt: integer('created_at').notNull(),
});

/**
 * Counters every server on the database moves and watches: `iam` moves with each IAM change, and a server whose IAM
 * memory (documents, keys, sessions) was read at another value drops it (src/cloud/iam/index.ts).
 */
export const generations = sqliteTable('generations', {
  name: text('name').primaryKey(),
  value: integer('value').notNull(),
});

/**
 * EC2's ClientToken (src/cloud/idempotency.ts): a request made again with its token answers as the first did and makes
 * nothing twice; with other parameters, IdempotentParameterMismatch. Written in the transaction that makes the
 * resource, so two servers on one database agree; swept after TOKEN_TTL_MS.
 */
export const clientTokens = sqliteTable('client_tokens', {
  accountId: text('account_id').notNull(),
  /** The EC2 action ('CreateVolume', …): a token names one request of one action. */
  operation: text('operation').notNull(),
  token: text('token').notNull(),
  /** sha256 of the request's parameters (all but the token and DryRun), hex. */
  requestHash: text('request_hash').notNull(),
  /** What the first request made or changed (vol-…, rtb-…, an instance id list …): the answer is built from it. */
  resourceId: text('resource_id').notNull(),
  createdAt: integer('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.operation, t.token] }), index('client_tokens_created').on(t.createdAt)]);

/**
 * What happened to instances (src/cloud/events.ts): their state changes, their instance status check's changes and
 * their failures, each with its reason; `pcloud events` reads them. `seq` orders them across every server on the
 * database (taken under the write lock: a follower reads what came after the last it saw). Bounded: the last
 * MAX_PER_INSTANCE of each instance, and none of an instance once it is no longer listed.
 */
export const events = sqliteTable('events', {
  seq: integer('seq').notNull(),
  /** When, in ms since the epoch. */
  time: integer('time').notNull(),
  accountId: text('account_id').notNull(),
  instanceId: text('instance_id').notNull(),
  /** 'state' | 'status' | 'failure' */
  kind: text('kind').notNull(),
  /** The new state (state), the new instance status check (status), or what failed (failure: events.ts). */
  code: text('code').notNull(),
  /** The state or status check it changed from, where known. */
  previous: text('previous'),
  /** Why, in the tenant's words (a state reason, the guest's word on its boot, a failure's reason). */
  message: text('message').notNull().default(''),
}, (t) => [uniqueIndex('events_seq').on(t.seq), index('events_instance').on(t.instanceId, t.seq), index('events_time').on(t.time)]);
