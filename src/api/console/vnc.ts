/**
 * What both console servers share (pcloud's own, and a fat lambda's console proxy): noVNC's files from npm, and the
 * bridge from a websocket to a VM's VNC UNIX socket.
 */
import type { IncomingMessage } from 'node:http';
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { WebSocketServer } from 'ws';

/** The package's root (its one export is core/rfb.js). */
const NOVNC = dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.json': 'application/json' };

/** A file of noVNC (`core/…` or `vendor/…`), or undefined for anything else. */
export async function novncFile(path: string): Promise<{ body: Buffer; type: string } | undefined> {
  const rel = normalize(path);
  if (rel.startsWith('..') || !/^(core|vendor)\//.test(rel)) return undefined;
  const body = await readFile(join(NOVNC, rel)).catch(() => undefined);
  return body && { body, type: TYPES[extname(rel)] ?? 'application/octet-stream' };
}

/** A websocket server for noVNC (its `binary` subprotocol), fed by upgrade events. */
export function vncWebsocketServer(): WebSocketServer {
  return new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false) });
}

export function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text.replace(/[^\x20-\x7e]/g, ' ')}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * Upgrade the request to a websocket carrying the VNC socket at `vncPath` both ways: 502 when the display does not
 * answer. `opened`, `closed` and `activity` follow the session.
 */
export function bridgeVnc(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, vncPath: string,
  on: { opened?(): void; closed?(): void; activity?(): void; failed?(err: Error): void } = {}): void {
  const vnc = createConnection(vncPath);
  vnc.once('error', (err) => {
    on.failed?.(err);
    refuse(socket, 502, 'Bad Gateway (the VM display does not answer)');
  });
  vnc.once('connect', () => wss.handleUpgrade(req, socket, head, (ws) => {
    vnc.removeAllListeners('error');
    on.opened?.();
    vnc.on('data', (d: Buffer) => { on.activity?.(); ws.send(d); });
    ws.on('message', (d: Buffer) => { on.activity?.(); vnc.write(d); });
    const close = () => { ws.close(); vnc.destroy(); };
    vnc.on('close', close);
    vnc.on('error', close);
    ws.on('error', close);
    ws.on('close', () => { vnc.destroy(); on.closed?.(); });
  }));
}
