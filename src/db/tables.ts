/**
 * The tables the domain queries, of the database this process runs on: SQLite's (src/db/schema.ts) unless
 * `useDialect('pg')` chose PostgreSQL's (src/db/pg/schema.ts, generated from the same definition) before the first
 * query. The exports are live bindings: a module importing `instances` from here reads whichever is chosen. Their type
 * is SQLite's either way (the rows read back the same on both: test/unit/pg-parity.test.ts). One process runs on one
 * database; the choice is made once, as it opens it (src/db/open.ts).
 */
import * as sqlite from './schema.js';
import * as pg from './pg/schema.js';

export type Dialect = 'sqlite' | 'pg';

/** The database this process runs on. */
export let dialect: Dialect = 'sqlite';

export let accounts = sqlite.accounts;
export let accessKeys = sqlite.accessKeys;
export let images = sqlite.images;
export let keyPairs = sqlite.keyPairs;
export let vpcs = sqlite.vpcs;
export let subnets = sqlite.subnets;
export let securityGroups = sqlite.securityGroups;
export let securityGroupRules = sqlite.securityGroupRules;
export let internetGateways = sqlite.internetGateways;
export let reservations = sqlite.reservations;
export let instances = sqlite.instances;
export let tags = sqlite.tags;
export let volumes = sqlite.volumes;
export let snapshots = sqlite.snapshots;
export let functions = sqlite.functions;
export let functionVersions = sqlite.functionVersions;
export let functionAliases = sqlite.functionAliases;
export let functionPolicies = sqlite.functionPolicies;
export let lambdaLayers = sqlite.lambdaLayers;
export let lambdaLayerVersions = sqlite.lambdaLayerVersions;
export let functionPackages = sqlite.functionPackages;
export let launchTemplates = sqlite.launchTemplates;
export let launchTemplateVersions = sqlite.launchTemplateVersions;
export let addresses = sqlite.addresses;
export let routeTables = sqlite.routeTables;
export let routes = sqlite.routes;
export let routeTableAssociations = sqlite.routeTableAssociations;
export let natGateways = sqlite.natGateways;
export let iamUsers = sqlite.iamUsers;
export let iamRoles = sqlite.iamRoles;
export let iamPolicies = sqlite.iamPolicies;
export let iamPolicyVersions = sqlite.iamPolicyVersions;
export let iamAttachments = sqlite.iamAttachments;
export let iamInlinePolicies = sqlite.iamInlinePolicies;
export let iamTags = sqlite.iamTags;
export let iamInstanceProfiles = sqlite.iamInstanceProfiles;
export let iamProfileAssociations = sqlite.iamProfileAssociations;
export let stsSessions = sqlite.stsSessions;
export let hosts = sqlite.hosts;
export let hostTokens = sqlite.hostTokens;
export let signingKeys = sqlite.signingKeys;
export let clientTokens = sqlite.clientTokens;
export let generations = sqlite.generations;
export let events = sqlite.events;

/** Run on `to` from now on (before any query: the tables of the other are left behind). */
export function useDialect(to: Dialect): void {
  if (to === dialect) return;
  dialect = to;
  const from = (to === 'pg' ? pg : sqlite) as unknown as typeof sqlite;
  accounts = from.accounts;
  accessKeys = from.accessKeys;
  images = from.images;
  keyPairs = from.keyPairs;
  vpcs = from.vpcs;
  subnets = from.subnets;
  securityGroups = from.securityGroups;
  securityGroupRules = from.securityGroupRules;
  internetGateways = from.internetGateways;
  reservations = from.reservations;
  instances = from.instances;
  tags = from.tags;
  volumes = from.volumes;
  snapshots = from.snapshots;
  functions = from.functions;
  functionVersions = from.functionVersions;
  functionAliases = from.functionAliases;
  functionPolicies = from.functionPolicies;
  lambdaLayers = from.lambdaLayers;
  lambdaLayerVersions = from.lambdaLayerVersions;
  functionPackages = from.functionPackages;
  launchTemplates = from.launchTemplates;
  launchTemplateVersions = from.launchTemplateVersions;
  addresses = from.addresses;
  routeTables = from.routeTables;
  routes = from.routes;
  routeTableAssociations = from.routeTableAssociations;
  natGateways = from.natGateways;
  iamUsers = from.iamUsers;
  iamRoles = from.iamRoles;
  iamPolicies = from.iamPolicies;
  iamPolicyVersions = from.iamPolicyVersions;
  iamAttachments = from.iamAttachments;
  iamInlinePolicies = from.iamInlinePolicies;
  iamTags = from.iamTags;
  iamInstanceProfiles = from.iamInstanceProfiles;
  iamProfileAssociations = from.iamProfileAssociations;
  stsSessions = from.stsSessions;
  hosts = from.hosts;
  hostTokens = from.hostTokens;
  signingKeys = from.signingKeys;
  clientTokens = from.clientTokens;
  generations = from.generations;
  events = from.events;
}
