/**
 * The "fat lambda" worker: a function whose target is a q35 VM's display. Started by socket activation on the first
 * connection (fd 3 is the listening socket), it serves the console page (noVNC) and its websocket, which carries the
 * VM's VNC (keyboard, mouse, display) both ways. It writes how many websockets are open and when the last one was
 * active to `--state` (pcloud stops the VM after the idle time), and exits 133 once nothing has been open for
 * `--idle` seconds, so that its socket takes the next connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { writeFile, rename } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { consolePage } from '../api/console/page.js';
import { bridgeVnc, novncFile, vncWebsocketServer } from '../api/console/vnc.js';

const { values: opt } = parseArgs({
  options: { vnc: { type: 'string' }, instance: { type: 'string' }, idle: { type: 'string', default: '300' }, state: { type: 'string' } },
});
let open = 0;
let lastActive = Date.now();

async function saveState(): Promise<void> {
  if (!opt.state) return;
  await writeFile(`${opt.state}.tmp`, JSON.stringify({ pid: process.pid, connections: open, lastActive }));
  await rename(`${opt.state}.tmp`, opt.state);
}

/** The console page and noVNC's files. */
async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Loading the page and noVNC's modules is use too: a slow load must not read as idle before the websocket opens.
  lastActive = Date.now();
  const path = new URL(req.url ?? '/', 'http://console').pathname;
  if (path === '/' || path === '') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(consolePage(opt.instance!, 'websocket', './novnc/core/rfb.js'));
    return;
  }
  const file = path.startsWith('/novnc/') ? await novncFile(path.slice('/novnc/'.length)) : undefined;
  if (file) res.writeHead(200, { 'content-type': file.type }).end(file.body);
  else res.writeHead(404).end();
}

const server = createServer((req, res) => void answer(req, res));

const wss = vncWebsocketServer();
server.on('upgrade', (req, socket, head) => bridgeVnc(wss, req, socket, head, opt.vnc!, {
  opened: () => { open++; lastActive = Date.now(); void saveState(); },
  activity: () => { lastActive = Date.now(); },
  closed: () => { open--; lastActive = Date.now(); void saveState(); },
}));

server.listen({ fd: 3 });
void saveState();
const idleMs = Number(opt.idle) * 1000;
setInterval(() => {
  void saveState();
  if (open === 0 && Date.now() - lastActive > idleMs) process.exit(133);
}, Math.min(1000, idleMs / 4)).unref();
