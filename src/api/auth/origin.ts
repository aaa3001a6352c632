/**
 * Where a request came from, as the server saw it: what every API adds to IAM's condition keys (aws:SourceIp,
 * aws:SecureTransport, aws:RequestedRegion) before it asks cloud.iam.authorize.
 */
import type { Principal } from './sigv4.js';

export interface Origin {
  /** The client's address (an IPv4-mapped IPv6 address as its IPv4 form). */
  sourceIp?: string;
  /** Whether it came over TLS. */
  secure: boolean;
}

export const unknownOrigin: Origin = { secure: false };

/** The origin of a request on a Node socket (`@hono/node-server` gives it as `c.env.incoming.socket`). */
export function originOf(socket: { remoteAddress?: string; encrypted?: boolean } | undefined): Origin {
  const addr = socket?.remoteAddress;
  return { sourceIp: addr?.startsWith('::ffff:') && addr.includes('.') ? addr.slice('::ffff:'.length) : addr, secure: socket?.encrypted === true };
}

/** The condition keys every request has: aws:SourceIp, aws:SecureTransport, aws:RequestedRegion. */
export function originContext(principal: Principal, origin: Origin): Map<string, string | readonly string[]> {
  const c = new Map<string, string | readonly string[]>();
  if (origin.sourceIp) c.set('aws:SourceIp', origin.sourceIp);
  c.set('aws:SecureTransport', origin.secure ? 'true' : 'false');
  c.set('aws:RequestedRegion', principal.region);
  return c;
}
