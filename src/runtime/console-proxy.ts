/**
 * The "fat lambda" worker: a function whose target is a q35 VM's display. Started by socket activation on the first
 * connection (fd 3 is the listening socket), it serves the console page (noVNC) and its websocket, which carries the
 * VM's VNC (keyboard, mouse, display) both ways. It writes how many websockets are open and when the last one was
 * active to `--state` (pcloud stops the VM after the idle time), and exits 133 once nothing has been open for
 * `--idle` seconds, so that the activator listens again.
 */
import { createConnection } from 'node:net';
import { createServer } from 'node:http';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { consolePage } from '../api/console/page.js';

const { values: opt } = parseArgs({
  options: { vnc: { type: 'string' }, instance: { type: 'string' }, idle: { type: 'string', default: '300' }, state: { type: 'string' } },
});
const NOVNC = dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));
let open = 0;
let lastActive = Date.now();

async function saveState(): Promise<void> {
  if (!opt.state) return;
  await writeFile(`${opt.state}.tmp`, JSON.stringify({ pid: process.pid, connections: open, lastActive }));
  await rename(`${opt.state}.tmp`, opt.state);
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://console').pathname;
  if (path === '/' || path === '') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(consolePage(opt.instance!, 'websocket', './novnc/core/rfb.js'));
    return;
  }
  if (path.startsWith('/novnc/')) {
    const rel = normalize(path.slice('/novnc/'.length));
    const body = /^(core|vendor)\//.test(rel) && !rel.startsWith('..') ? await readFile(join(NOVNC, rel)).catch(() => undefined) : undefined;
    if (body) {
      res.writeHead(200, { 'content-type': extname(rel) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(body);
      return;
    }
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('binary') ? 'binary' : false) });
server.on('upgrade', (req, socket, head) => {
  const vnc = createConnection(opt.vnc!);
  vnc.once('error', () => socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  vnc.once('connect', () => wss.handleUpgrade(req, socket, head, (ws) => {
    open++;
    lastActive = Date.now();
    void saveState();
    vnc.removeAllListeners('error');
    vnc.on('data', (d: Buffer) => { lastActive = Date.now(); ws.send(d); });
    ws.on('message', (d: Buffer) => { lastActive = Date.now(); vnc.write(d); });
    const close = () => { ws.close(); vnc.destroy(); };
    vnc.on('close', close);
    vnc.on('error', close);
    ws.on('close', () => {
      vnc.destroy();
      open--;
      lastActive = Date.now();
      void saveState();
    });
  }));
});

server.listen({ fd: 3 });
void saveState();
const idleMs = Number(opt.idle) * 1000;
setInterval(() => {
  void saveState();
  if (open === 0 && Date.now() - lastActive > idleMs) process.exit(133);
}, Math.min(1000, idleMs / 4)).unref();
