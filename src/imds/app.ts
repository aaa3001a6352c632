/**
 * The instance metadata service on the wire (IMDSv1/v2, as EC2 answers at 169.254.169.254): which instance is asking
 * comes from the connection (its VPC's listener and its source address), the rest from the path and headers. The
 * domain (cloud/metadata.ts) decides what the instance may read; this file only formats it.
 */
import { Hono, type Context } from 'hono';
import type { IncomingMessage } from 'node:http';
import type { Instance } from '../cloud/instances/index.js';
import { METADATA_VERSIONS, TOKEN_TTL_MAX, type Metadata, type MetadataNode } from '../cloud/metadata.js';

export interface MetadataEnv {
  Bindings: { incoming: IncomingMessage; vpcId: string };
  Variables: { instance: Instance };
}

const TEXT = { 'content-type': 'text/plain', server: 'EC2ws' };
const TOKEN = 'x-aws-ec2-metadata-token';
const TTL = 'x-aws-ec2-metadata-token-ttl-seconds';

function status(code: 400 | 401 | 403 | 404 | 405, reason: string): Response {
  const body = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>${code} - ${reason}</title>
 </head>
 <body>
  <h1>${code} - ${reason}</h1>
 </body>
</html>
`;
  return new Response(body, { status: code, headers: { 'content-type': 'text/html', server: 'EC2ws' } });
}

/** A directory as EC2 lists it: one entry per line, subdirectories with a trailing slash; a leaf as itself. */
async function render(node: MetadataNode): Promise<string | Buffer | undefined> {
  if (typeof node === 'string' || Buffer.isBuffer(node)) return node;
  if (typeof node === 'function') return await node();
  return Object.keys(node).join('\n');
}

/** Walk a path (segments) down a tree whose directory keys end in `/`. `public-keys/0/` is the `0=name` entry. */
function walk(tree: MetadataNode, segments: string[]): MetadataNode | undefined {
  let node: MetadataNode | undefined = tree;
  for (const seg of segments) {
    if (node === undefined || typeof node === 'string' || typeof node === 'function' || Buffer.isBuffer(node)) return undefined;
    const dir: { [name: string]: MetadataNode } = node;
    const key = Object.keys(dir).find((k) => k === seg || k === `${seg}/` || (/^\d+$/.test(seg) && k.startsWith(`${seg}=`)));
    node = key === undefined ? undefined : dir[key];
  }
  return node;
}

/** The path's segments, percent-decoded; undefined when the encoding is broken (`%zz`). */
function pathSegments(pathname: string): string[] | undefined {
  try {
    return decodeURIComponent(pathname).split('/').filter(Boolean);
  } catch {
    return undefined;
  }
}

export function metadataApp(metadata: Metadata): Hono<MetadataEnv> {
  const app = new Hono<MetadataEnv>();

  // Who is asking: the instance holding the source address in the VPC this connection came in from.
  app.use('*', async (c, next) => {
    const ip = (c.env.incoming.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const inst = await metadata.caller(c.env.vpcId, ip);
    if (!inst) return status(404, 'Not Found');
    if (inst.attributes.metadataOptions.httpEndpoint === 'disabled') return status(403, 'Forbidden');
    c.set('instance', inst);
    await next();
  });

  app.put('/latest/api/token', async (c) => {
    if (c.req.header('x-forwarded-for') !== undefined) return status(403, 'Forbidden');
    const raw = c.req.header(TTL);
    const ttl = raw !== undefined && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!(ttl >= 1 && ttl <= TOKEN_TTL_MAX)) return status(400, 'Bad Request');
    const token = await metadata.issueToken(c.get('instance'), ttl);
    return new Response(token, { status: 200, headers: { ...TEXT, [TTL]: String(ttl) } });
  });

  app.on(['GET', 'HEAD'], '*', async (c) => {
    const denied = await checkToken(c, metadata);
    if (denied) return denied;
    const inst = c.get('instance');
    const segments = pathSegments(new URL(c.req.url).pathname);
    if (!segments) return status(400, 'Bad Request');
    if (!segments.length) return ok([...METADATA_VERSIONS, 'latest'].join('\n'));
    const [version, area, ...rest] = segments;
    if (version !== 'latest' && !METADATA_VERSIONS.includes(version!)) return status(404, 'Not Found');
    const userData = metadata.userData(inst);
    if (area === undefined) return ok(['dynamic', 'meta-data', ...(userData ? ['user-data'] : [])].join('\n'));
    if (area === 'user-data' && !rest.length) return userData ? ok(userData, 'application/octet-stream') : status(404, 'Not Found');
    const tree = area === 'meta-data' ? (await metadata.metaData(inst)) : area === 'dynamic' ? (await metadata.dynamic(inst)) : undefined;
    const node = tree && walk(tree, rest);
    const body = node === undefined ? undefined : await render(node);
    return body === undefined ? status(404, 'Not Found') : ok(body);
  });

  app.all('*', () => status(405, 'Method Not Allowed'));
  return app;
}

function ok(body: string | Buffer, type = 'text/plain'): Response {
  return new Response(typeof body === 'string' ? body : new Uint8Array(body), { status: 200, headers: { ...TEXT, 'content-type': type } });
}

/** IMDSv2: a token, when given, must be valid (401 otherwise); HttpTokens=required makes it mandatory. */
async function checkToken(c: Context<MetadataEnv>, metadata: Metadata): Promise<Response | undefined> {
  const inst = c.get('instance');
  const token = c.req.header(TOKEN);
  if (token === undefined) return inst.attributes.metadataOptions.httpTokens === 'required' ? status(401, 'Unauthorized') : undefined;
  return (await metadata.checkToken(inst, token)) ? undefined : status(401, 'Unauthorized');
}
