/**
 * A function URL's request that nginx hands pcloud's API to count (nginx/function-url-relayed.conf: a function with a
 * reserved concurrency, whose URL requests and Invokes share its slots across every server): counted, relayed to the
 * function's socket, its answer streamed back to nginx as the function writes it.
 *
 * Only this server's nginx may ask (its secret in X-Pcloud-Authorizer). It has authorized the request (auth_request)
 * and names the function (X-Pcloud-Function), the URL (X-Pcloud-Url) and the client's URI (X-Original-URI); none of
 * these, nor the secret, reach the function. Anyone else gets undefined: the route is not there for them.
 */
import { Readable } from 'node:stream';
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { ReservedConcurrencyExceeded } from '../../cloud/functions/concurrency.js';
import { log } from '../../log.js';
import { readBody } from '../body.js';
import { lambdaError } from './errors.js';

/** What nginx takes of a URL request's body (nginx/pcloud.conf's client_max_body_size). */
const URL_BODY_MAX = 6 * 1024 * 1024;

/** What nginx tells the API, kept from the function. */
const FROM_NGINX = new Set(['x-pcloud-authorizer', 'x-pcloud-function', 'x-original-uri']);

const NO_BODY = new Set([204, 205, 304]);

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export async function relayUrlForNginx(cloud: Cloud, req: Request, incoming: AsyncIterable<Uint8Array> | null): Promise<Response | undefined> {
  if (!cloud.functions.nginx?.authorizes(req.headers)) return undefined;
  const fn = /^(\d{12})\/([^/]+)$/.exec(req.headers.get('x-pcloud-function') ?? '');
  const urlId = req.headers.get('x-pcloud-url') ?? '';
  if (!fn || !/^[0-9a-f]{32}$/.test(urlId)) return json(404, { Message: 'Not Found' });
  // The path under the URL as the client sent it (/url/ID/rest?query: the function sees /rest?query, as nginx passes it).
  const uri = req.headers.get('x-original-uri') ?? '';
  const rest = /^\/url\/[^/?]*(\/[^]*)$/.exec(uri)?.[1] ?? '/';
  const read = await readBody(incoming, URL_BODY_MAX);
  if ('tooLarge' in read) return json(413, { Message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' });
  const headers: [string, string][] = [];
  req.headers.forEach((v, k) => { if (!FROM_NGINX.has(k)) headers.push([k, v]); });
  try {
    const answer = await cloud.functions.relayUrl(fn[1]!, fn[2]!, urlId, { method: req.method, path: rest, headers, body: read.body });
    // A status that carries no body (HTTP's own rule, which Response enforces): the function's is let go, ending the call.
    if (NO_BODY.has(answer.status)) answer.body.destroy();
    return new Response(NO_BODY.has(answer.status) ? null : Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, { status: answer.status, headers: answer.headers });
  } catch (err) {
    if (err instanceof ReservedConcurrencyExceeded) return lambdaError(err.code, err.message, 429, { Reason: err.reason });
    if (err instanceof CloudError && err.code === 'ResourceNotFoundException') return json(404, { Message: 'Not Found' });
    if (err instanceof CloudError) return lambdaError(err.code, err.message);
    log.warn(`function URL of ${fn[2]}: ${(err as Error).message}`);
    return json(502, { Message: 'Internal Server Error' });
  }
}
