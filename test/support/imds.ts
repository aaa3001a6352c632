/** The metadata service's app, asked as one instance would ask it (its VPC and source address), without a network. */
import type { IncomingMessage } from 'node:http';
import { metadataApp } from '../../src/imds/app.js';
import type { Cloud } from '../../src/cloud/index.js';
import type { Instance } from '../../src/cloud/instances/index.js';

export type ImdsAsk = (method: string, path: string, headers?: Record<string, string>) => Promise<{ status: number; text: string }>;

export function imdsFor(cloud: Cloud, inst: Pick<Instance, 'vpcId' | 'privateIp'>): ImdsAsk {
  const app = metadataApp(cloud.metadata);
  const incoming = { socket: { remoteAddress: inst.privateIp } } as unknown as IncomingMessage;
  return async (method, path, headers = {}) => {
    const res = await app.fetch(new Request(`http://169.254.169.254${path}`, { method, headers }), { incoming, vpcId: inst.vpcId });
    return { status: res.status, text: await res.text() };
  };
}
