/** Validation of what a launch or a change of attributes asks for: counts, options, metadata options, user data. */
import type { InstanceAttributes, MetadataOptions } from '../../db/schema.js';
import type { InstanceType } from '../catalog.js';
import { CloudError, invalidParam } from '../errors.js';
import { checkClientToken } from '../idempotency.js';
import type { RunParams } from './types.js';

const USER_DATA_MAX = 16 * 1024;

export const defaultMetadataOptions: MetadataOptions = {
  httpTokens: 'optional', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled', httpProtocolIpv6: 'disabled',
  instanceMetadataTags: 'disabled',
};

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!allowed.includes(value as T)) throw invalidParam(`Invalid value '${value}' for ${name}. Valid values: ${allowed.join(', ')}`);
  return value as T;
}

export const shutdownBehaviors = ['stop', 'terminate'] as const;

export const cpuCreditModes = ['standard', 'unlimited'] as const;
export type CpuCredits = (typeof cpuCreditModes)[number];

/** A change of a burstable instance's CpuCredits (ModifyInstanceCreditSpecification): standard or unlimited. */
export function checkCpuCredits(value: string): CpuCredits {
  const mode = cpuCreditModes.find((m) => m === value);
  if (!mode) throw invalidParam(`Invalid CpuCredits '${value}'`);
  return mode;
}

export function checkMetadataOptions(m: Partial<MetadataOptions>): Partial<MetadataOptions> {
  const out: Partial<MetadataOptions> = {};
  const tokens = oneOf('HttpTokens', m.httpTokens, ['optional', 'required'] as const);
  if (tokens) out.httpTokens = tokens;
  const ep = oneOf('HttpEndpoint', m.httpEndpoint, ['enabled', 'disabled'] as const);
  if (ep) out.httpEndpoint = ep;
  const v6 = oneOf('HttpProtocolIpv6', m.httpProtocolIpv6, ['enabled', 'disabled'] as const);
  if (v6) out.httpProtocolIpv6 = v6;
  const tags = oneOf('InstanceMetadataTags', m.instanceMetadataTags, ['enabled', 'disabled'] as const);
  if (tags) out.instanceMetadataTags = tags;
  if (m.httpPutResponseHopLimit !== undefined) {
    const n = m.httpPutResponseHopLimit;
    if (!Number.isInteger(n) || n < 1 || n > 64) throw invalidParam('HttpPutResponseHopLimit must be an integer from 1 to 64');
    out.httpPutResponseHopLimit = n;
  }
  return out;
}

export function decodeUserData(b64: string): Buffer {
  const clean = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw invalidParam('Invalid BASE64 encoding of user data.');
  }
  const buf = Buffer.from(clean, 'base64');
  if (buf.length > USER_DATA_MAX) throw invalidParam(`User data is limited to ${USER_DATA_MAX} bytes`);
  return buf;
}

/** RunInstances' required parameters and counts, checked before anything is looked up. */
export function checkRunCounts(p: RunParams): { imageId: string; minCount: number; maxCount: number } {
  if (!p.imageId) throw new CloudError('MissingParameter', 'The request must contain the parameter ImageId');
  if (p.maxCount === undefined) throw new CloudError('MissingParameter', 'The request must contain the parameter MaxCount');
  if (p.minCount === undefined) throw new CloudError('MissingParameter', 'The request must contain the parameter MinCount');
  if (!Number.isSafeInteger(p.minCount) || p.minCount < 1) throw invalidParam(`Value (${p.minCount}) for parameter minCount is invalid. Expected a value greater than or equal to 1.`);
  if (!Number.isSafeInteger(p.maxCount) || p.maxCount < p.minCount) throw invalidParam(`Value (${p.maxCount}) for parameter maxCount is invalid. Expected a value greater than or equal to minCount.`);
  checkClientToken(p.clientToken);
  return { imageId: p.imageId, minCount: p.minCount, maxCount: p.maxCount };
}

/** RunInstances' options (user data, shutdown behaviour, credits, metadata options, tag specifications): the instance's attributes. */
export function runAttributes(p: RunParams, type: InstanceType): InstanceAttributes {
  if (p.userData) decodeUserData(p.userData);
  const shutdown = oneOf('InstanceInitiatedShutdownBehavior', p.instanceInitiatedShutdownBehavior, shutdownBehaviors);
  const credits = oneOf('CpuCredits', p.cpuCredits, cpuCreditModes);
  const metadataOptions = { ...defaultMetadataOptions, ...checkMetadataOptions(p.metadataOptions) };
  for (const spec of p.tagSpecifications) {
    if (!['instance', 'volume', 'network-interface'].includes(spec.resourceType)) {
      throw invalidParam(`'${spec.resourceType}' is not a valid taggable resource type for this operation.`);
    }
  }
  return {
    disableApiTermination: p.disableApiTermination ?? false,
    disableApiStop: p.disableApiStop ?? false,
    instanceInitiatedShutdownBehavior: shutdown ?? 'stop',
    ebsOptimized: p.ebsOptimized ?? false,
    monitoring: p.monitoring ?? false,
    cpuCredits: type.burstable ? (credits ?? (type.name.startsWith('t2') ? 'standard' : 'unlimited')) : undefined,
    sourceDestCheck: true,
    hibernation: p.hibernation ?? false,
    metadataOptions,
  };
}
