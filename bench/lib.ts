/**
 * Small helpers for the benchmarks: percentiles, a SigV4-signing Query client, free ports, result files, and taking
 * down what a bench's server started once it stops (or the bench is interrupted).
 */
import aws4 from 'aws4';
import http from 'node:http';
import { createServer } from 'node:net';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { purge, stopUnits } from '../src/host/teardown.js';

export function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export function summary(values: number[], digits = 2) {
  const r = (x: number) => round(x, digits);
  return { n: values.length, p50: r(pct(values, 50)), p95: r(pct(values, 95)), p99: r(pct(values, 99)), max: r(Math.max(...values)) };
}

export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Creds { accessKeyId: string; secretAccessKey: string }

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POST an EC2 Query request, signed, on a keep-alive connection; returns status and body. */
export function ec2Call(endpoint: string, creds: Creds, params: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(endpoint);
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  const signed = aws4.sign({
    host: url.host, method: 'POST', path: '/', body, service: 'ec2', region: 'us-east-1',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
  }, creds);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: signed.headers as http.OutgoingHttpHeaders, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function writeResult(name: string, data: unknown): string {
  const dir = join(process.cwd(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...(data as object) }, null, 2) + '\n');
  return file;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i]!)).join('  ')).join('\n');
}

/**
 * A bench's data dir once its server stopped (or failed to start): every unit the server started stopped, as `pcloud
 * down` stops them (src/host/teardown.ts), so nothing of it runs on into the next part: no nginx holding the
 * function-URL port the next server's function URLs would answer from, no VPC DNS, no instance. Instances left
 * running read as ended to the next server on it (down's record of them is not written: they are not brought back
 * into another bench's figures). With `purge` (a throwaway data dir), its namespaces, pool and files go too.
 */
export async function benchDown(dataDir: string, opts: { purge?: boolean } = {}): Promise<void> {
  if (!opts.purge) {
    await stopUnits(dataDir);
    return;
  }
  const left = await purge(dataDir);
  if (left.removed) rmSync(dataDir, { recursive: true, force: true });
  else console.warn(`${dataDir}: something stays mounted under it; kept`);
}

/** The stops of the servers benches run now: run (each taking its data dir down) if the bench is interrupted. */
const serving = new Set<() => Promise<void>>();
let trapped = false;

/** Have `stop` run should the bench be interrupted (SIGINT, SIGTERM) while its server runs; the returned function forgets it. */
export function stopOnInterrupt(stop: () => Promise<void>): () => void {
  serving.add(stop);
  if (!trapped) {
    trapped = true;
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => void (async () => {
        for (const s of serving) await s().catch((err: Error) => console.warn(`stopping a bench server: ${err.message}`));
        process.exit(130);
      })());
    }
  }
  return () => serving.delete(stop);
}
