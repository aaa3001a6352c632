/**
 * SigV4 verification for every API request: the Authorization header (or a presigned query string) is parsed, the
 * key looked up, and the signature recomputed with aws4 over exactly the headers the client signed and the body that
 * arrived (a declared x-amz-content-sha256 must be that body's hash: a signature never covers a body it did not see).
 * Presigned URLs hold until their X-Amz-Expires; the credential scope's region must be one this cloud serves.
 */
import aws4 from 'aws4';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccessKey } from '../../cloud/accounts.js';
import { rootIdentity, type Identity } from '../../cloud/iam/identity.js';

export interface SignedRequest {
  method: string;
  /** Path with the raw query string, as received. */
  url: string;
  headers: Headers;
  body: Buffer;
  /**
   * 'declared': the caller does not have the body (nginx's auth_request): the signature is checked over the hash the
   * client declared in x-amz-content-sha256, and whoever gets the body must check it against that hash.
   */
  payload?: 'received' | 'declared';
}

export interface VerifyOptions {
  /** Regions this cloud serves: a credential scoped to any other is refused, as AWS does. Unchecked when absent. */
  regions?: readonly string[];
}

export interface Principal {
  accountId: string;
  accessKeyId: string;
  region: string;
  service: string;
  /** Who signed: root, an IAM user, or a role session (what policies are evaluated for). */
  identity: Identity;
  /** Signed with temporary credentials (and their session token). */
  temporary?: boolean;
}

export class AuthError extends Error {
  constructor(readonly code: 'AuthFailure' | 'MissingAuthenticationToken' | 'SignatureDoesNotMatch' | 'InvalidClientTokenId' | 'RequestExpired' | 'ExpiredToken', message: string) {
    super(message);
  }
}

const MAX_SKEW_MS = 15 * 60 * 1000;
/** AWS: a presigned URL is valid for at most seven days. */
const MAX_EXPIRES_SEC = 7 * 24 * 3600;
/** Header names as HTTP tokens, lowercase (SigV4's SignedHeaders). */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  presigned: boolean;
  /** Presigned: seconds from amzDate the URL holds. */
  expires?: number;
}

/** The credential scope, without verifying anything: routing needs the service before the body is parsed. */
export function scopeOf(req: { url: string; headers: Headers }): { accessKeyId: string; service: string; region: string } | undefined {
  const auth = req.headers.get('authorization');
  let cred: string | undefined;
  if (auth) cred = /Credential=([^,\s]+)/.exec(auth)?.[1];
  else cred = new URL(req.url, 'http://x').searchParams.get('X-Amz-Credential') ?? undefined;
  if (!cred) return undefined;
  const parts = cred.split('/');
  if (parts.length < 5) return undefined;
  return { accessKeyId: parts.slice(0, -4).join('/'), region: parts[parts.length - 3]!, service: parts[parts.length - 2]! };
}

function parse(req: SignedRequest): Parsed {
  const auth = req.headers.get('authorization');
  if (auth) {
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(auth);
    if (!m) throw new AuthError('AuthFailure', 'Authorization header is not a valid AWS Signature Version 4 header.');
    const [accessKeyId, date, region, service, term] = m[1]!.split('/');
    if (!accessKeyId || !date || !region || !service || term !== 'aws4_request') {
      throw new AuthError('AuthFailure', 'Credential should be scoped to a valid region, service and aws4_request.');
    }
    const amzDate = req.headers.get('x-amz-date') ?? '';
    return { accessKeyId, date, region, service, signedHeaders: m[2]!.split(';'), signature: m[3]!, amzDate, presigned: false };
  }
  const q = new URL(req.url, 'http://x').searchParams;
  if (q.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256') {
    const [accessKeyId, date, region, service, term] = (q.get('X-Amz-Credential') ?? '').split('/');
    if (!accessKeyId || !date || !region || !service || term !== 'aws4_request') {
      throw new AuthError('AuthFailure', 'Credential should be scoped to a valid region, service and aws4_request.');
    }
    const expires = q.get('X-Amz-Expires') ?? '';
    if (!/^\d{1,7}$/.test(expires) || +expires < 1 || +expires > MAX_EXPIRES_SEC) {
      throw new AuthError('AuthFailure', `X-Amz-Expires must be a number of seconds from 1 to ${MAX_EXPIRES_SEC}.`);
    }
    return {
      accessKeyId, date, region, service, signedHeaders: (q.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
      signature: q.get('X-Amz-Signature') ?? '', amzDate: q.get('X-Amz-Date') ?? '', presigned: true, expires: +expires,
    };
  }
  throw new AuthError('AuthFailure', 'AWS was not able to validate the provided access credentials');
}

function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export async function verify(req: SignedRequest, lookup: (id: string) => Promise<AccessKey | undefined> | AccessKey | undefined, now = Date.now(), opts: VerifyOptions = {}): Promise<Principal> {
  const p = parse(req);
  if (opts.regions && !opts.regions.includes(p.region)) {
    throw new AuthError('AuthFailure', `Credential should be scoped to a valid region: this cloud serves ${opts.regions.join(', ')}.`);
  }
  const key = await lookup(p.accessKeyId);
  if (!key) throw new AuthError('AuthFailure', 'AWS was not able to validate the provided access credentials');
  const t = parseAmzDate(p.amzDate);
  if (Number.isNaN(t)) throw new AuthError('AuthFailure', 'The request must contain a valid X-Amz-Date.');
  if (p.amzDate.slice(0, 8) !== p.date) {
    throw new AuthError('AuthFailure', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${p.date}' != '${p.amzDate.slice(0, 8)}'`);
  }
  if (p.expires !== undefined) {
    if (t - now > MAX_SKEW_MS) throw new AuthError('AuthFailure', `Request is not yet valid: X-Amz-Date ${p.amzDate} is in the future.`);
    if (now > t + p.expires * 1000) throw new AuthError('AuthFailure', `Request has expired: it was valid for ${p.expires} seconds from ${p.amzDate}.`);
  } else if (Math.abs(now - t) > MAX_SKEW_MS) {
    throw new AuthError('AuthFailure', `Signature not yet current or expired: request time ${p.amzDate} is more than 15 minutes from the server time.`);
  }

  const headers = Object.create(null) as Record<string, string>;
  for (const h of p.signedHeaders) {
    if (!HEADER_NAME.test(h) || Object.hasOwn(headers, h)) throw new AuthError('AuthFailure', 'SignedHeaders must be distinct lowercase header names.');
    const v = req.headers.get(h);
    if (v === null) throw new AuthError('AuthFailure', `Header ${h} was signed but is missing from the request.`);
    headers[h] = v;
  }
  const declared = req.headers.get('x-amz-content-sha256');
  if (req.payload !== 'declared') {
    // The hash in the canonical request is the received body's: a declared hash must be that one, so
    // anything else (UNSIGNED-PAYLOAD included) is refused, and an undeclared one is computed by aws4 from the body.
    const actual = createHash('sha256').update(req.body).digest('hex');
    if (declared !== null && declared !== actual) {
      throw new AuthError('AuthFailure', "The provided 'x-amz-content-sha256' header does not match the hash of the request body.");
    }
  }
  let path = req.url;
  if (p.presigned) {
    const u = new URL(req.url, 'http://x');
    u.searchParams.delete('X-Amz-Signature');
    path = u.pathname + (u.searchParams.size ? '?' + u.searchParams.toString() : '');
  }
  const signer = new aws4.RequestSigner(
    {
      method: req.method, path, headers, body: req.body,
      service: p.service, region: p.region, doNotModifyHeaders: true, signQuery: p.presigned,
      extraHeadersToInclude: Object.fromEntries(p.signedHeaders.map((h) => [h, true])),
    } as aws4.Request,
    { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
  ) as unknown as { datetime: string; signature(): string; prepareRequest(): void; parsedPath: { query: Record<string, unknown> | null } };
  signer.datetime = p.amzDate;
  if (p.presigned) {
    // aws4 rebuilds the presigned query itself; feed it what the client had.
    signer.prepareRequest();
  }
  const expected = Buffer.from(signer.signature());
  const given = Buffer.from(p.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new AuthError('AuthFailure', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
  if (key.session) checkSession(key.session, p.presigned ? new URL(req.url, 'http://x').searchParams.get('X-Amz-Security-Token') : req.headers.get('x-amz-security-token'), now);
  return {
    accountId: key.accountId, accessKeyId: key.accessKeyId, region: p.region, service: p.service,
    identity: key.identity ?? rootIdentity(key.accountId), ...(key.session ? { temporary: true } : {}),
  };
}

/** Temporary credentials sign only with their own session token, and only until they expire. */
function checkSession(session: NonNullable<AccessKey['session']>, token: string | null, now: number): void {
  const given = Buffer.from(createHash('sha256').update(token ?? '').digest('hex'));
  const want = Buffer.from(session.tokenHash);
  if (token === null || given.length !== want.length || !timingSafeEqual(given, want)) {
    throw new AuthError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  if (now >= session.expiresAt) throw new AuthError('ExpiredToken', 'The security token included in the request is expired');
}
