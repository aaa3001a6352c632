/**
 * A function URL's request relayed to its function's socket as nginx passes one (nginx/function-url.conf), for the
 * URLs pcloud's API counts itself: a function with reserved concurrency (nginx/function-url-relayed.conf), whose slots
 * hold across every server (src/db/slots.ts). The answer's body is handed over as a stream (the domain reads it whole,
 * within Lambda's 6 MB, before it lets the slot go: cloud/functions/invoke.ts relayUrl).
 */
import { request, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

export interface RelayRequest {
  method: string;
  /** The path and query under the URL (what follows /url/ID). */
  path: string;
  /** The client's headers as nginx passed them, and the ones it sets for a function (X-Pcloud-Url etc.). */
  headers: [string, string][];
  body: Buffer;
}

export interface RelayAnswer {
  status: number;
  headers: [string, string][];
  /** The function's answer as it comes; closed once it has ended or the client is gone. */
  body: Readable;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) and the length: each connection has its own. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length']);

/** One request on the socket, answered once its status and headers are in. */
export function relayOnce(socket: string, req: RelayRequest, timeoutMs: number): Promise<RelayAnswer> {
  return new Promise((resolve, reject) => {
    const headers: [string, string][] = req.headers.filter(([k]) => !HOP.has(k.toLowerCase()));
    headers.push(['content-length', String(req.body.length)], ['connection', 'close']);
    const out = request({ socketPath: socket, method: req.method, path: req.path, agent: false, headers: headers.flat(), timeout: timeoutMs }, (res: IncomingMessage) => {
      const answer: [string, string][] = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        if (!HOP.has(res.rawHeaders[i]!.toLowerCase())) answer.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
      }
      resolve({ status: res.statusCode ?? 502, headers: answer, body: res });
    });
    out.on('timeout', () => out.destroy(new Error('the function did not answer')));
    out.on('error', reject);
    out.end(req.body);
  });
}
