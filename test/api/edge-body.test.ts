/**
 * Bodies over the limit (issue 12): the client gets its 413, not a connection reset while it is still sending, and
 * (read to its end) the connection carries the next request (ec2-api.test.ts's fetch reuses it after its 413).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { startApi, type TestApi } from '../support/api.js';
import { MAX_BODY } from '../../src/api/server.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

/** POST `size` bytes in 64 KiB writes, each after the one before drained; resolves with the answer or the socket error. */
function post(size: number, chunked = false): Promise<{ status?: number; body?: string; error?: string }> {
  const url = new URL(api.endpoint);
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { ...(chunked ? {} : { 'content-length': size }), 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const write = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(chunk.subarray(0, n))) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('request bodies over the limit', () => {
  it('are read to the end and answered 413 RequestEntityTooLarge', async () => {
    for (const [size, chunked] of [[MAX_BODY + 1, false], [4 * MAX_BODY, false], [12 * MAX_BODY, false], [MAX_BODY + 1, true], [12 * MAX_BODY, true]] as const) {
      const res = await post(size, chunked);
      expect(res.error, `${size} ${chunked}`).toBeUndefined();
      expect(res.status).toBe(413);
      expect(res.body).toContain('RequestEntityTooLarge');
    }
    // The server still answers (a small unsigned request is refused as such).
    expect((await post(10)).status).toBe(401);
  });
});

describe('the Lambda body limit', () => {
  it('is the large one only for a known access key: anyone else is held to 1 MiB before any signature check', async () => {
    const body = JSON.stringify({ ZipFile: 'A'.repeat(2 * MAX_BODY) });
    const known = await api.send({ method: 'PUT', path: '/2015-03-31/functions/nope/code', service: 'lambda', body });
    expect(known.status).toBe(404);
    const scope = `AKIDNOBODY/${new Date().toISOString().slice(0, 10).replace(/-/g, '')}/us-east-1/lambda/aws4_request`;
    const stranger = await fetch(`${api.endpoint}/2015-03-31/functions/nope/code`, {
      method: 'PUT', body, headers: { authorization: `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host, Signature=${'0'.repeat(64)}` },
    });
    expect(stranger.status).toBe(413);
  });
});
