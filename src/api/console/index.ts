/**
 * The console of q35 VMs over the web: `GET /pcloud/console/<instance-id>` (SigV4, usually presigned: `pcloud console`
 * prints such a URL) answers a noVNC page; the page's websocket, `/pcloud/console/<instance-id>/websocket`, carries
 * the VM's VNC (its UNIX socket) both ways. The websocket takes the console token the page was given, or a SigV4
 * presigned query of its own (scripts). noVNC itself is served from npm's @novnc/novnc under /pcloud/novnc/.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { log } from '../../log.js';
import { AuthError, verify } from '../auth/sigv4.js';
import { ec2Error } from '../ec2/index.js';
import { authorizeConsole } from '../ec2/access.js';
import { originOf } from '../auth/origin.js';
import { consolePage } from './page.js';
import { bridgeVnc, novncFile, refuse, vncWebsocketServer } from './vnc.js';

const PAGE = /^\/pcloud\/console\/(i-[0-9a-f]{8,17})$/;
const SOCKET = /^\/pcloud\/console\/(i-[0-9a-f]{8,17})\/websocket$/;

function headersOf(req: IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
  return h;
}

/** The page and noVNC's files, on the API's app. */
export function consoleRoutes(app: Hono, cloud: Cloud): void {
  app.get('/pcloud/novnc/*', async (c) => {
    const file = await novncFile(c.req.path.slice('/pcloud/novnc/'.length));
    if (!file) return c.notFound();
    return new Response(new Uint8Array(file.body), { headers: { 'content-type': file.type, 'cache-control': 'max-age=3600' } });
  });
  app.get('/pcloud/console/:id', async (c) => {
    const id = PAGE.exec(c.req.path)?.[1];
    if (!id) return c.notFound();
    const url = new URL(c.req.url);
    try {
      const principal = await verify({ method: 'GET', url: url.pathname + url.search, headers: c.req.raw.headers, body: Buffer.alloc(0) }, (k) => cloud.iam.findKey(k),
        Date.now(), { regions: [cloud.config.region] });
      await authorizeConsole(cloud, principal, originOf((c.env as { incoming?: { socket?: Socket } } | undefined)?.incoming?.socket), id);
      const token = await cloud.consoles.issue(principal.accountId, id);
      return c.html(consolePage(id, `/pcloud/console/${id}/websocket?token=${encodeURIComponent(token)}`));
    } catch (err) {
      if (err instanceof AuthError) return ec2Error(err.code, err.message);
      if (err instanceof CloudError) return ec2Error(err.code, err.message);
      throw err;
    }
  });
}

/** The account of a presigned websocket request, once its signer may open the instance's console. */
async function signedConsole(cloud: Cloud, req: IncomingMessage, id: string): Promise<string> {
  const principal = await verify({ method: 'GET', url: req.url ?? '/', headers: headersOf(req), body: Buffer.alloc(0) }, (k) => cloud.iam.findKey(k),
    Date.now(), { regions: [cloud.config.region] });
  await authorizeConsole(cloud, principal, originOf(req.socket), id);
  return principal.accountId;
}

/** The websocket side, on the HTTP server's upgrade event. */
export function attachConsoleWebsocket(server: Server, cloud: Cloud): () => void {
  const wss = vncWebsocketServer();
  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://console');
    const id = SOCKET.exec(url.pathname)?.[1];
    if (!id) return refuse(socket, 404, 'Not Found');
    let vncPath: string;
    try {
      const token = url.searchParams.get('token');
      // A token was given after the page's request was authorized; a presigned websocket request is authorized here.
      const accountId = token ? (await cloud.consoles.check(token, id)) : (await signedConsole(cloud, req, id));
      if (!accountId) return refuse(socket, 401, 'Unauthorized (console token invalid or expired)');
      vncPath = await cloud.consoles.display(accountId, id);
    } catch (err) {
      if (err instanceof AuthError) return refuse(socket, 401, `Unauthorized (${err.message})`);
      if (err instanceof CloudError) return refuse(socket, err.code.endsWith('NotFound') ? 404 : err.code === 'UnauthorizedOperation' ? 403 : 409, `${err.code}: ${err.message}`);
      log.error(`console ${id}: ${(err as Error).stack}`);
      return refuse(socket, 500, 'Internal Error');
    }
    bridgeVnc(wss, req, socket, head, vncPath, {
      opened: () => log.info(`console of ${id} opened`),
      closed: () => log.info(`console of ${id} closed`),
      failed: (err) => log.warn(`console ${id}: ${err.message}`),
    });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch((err: unknown) => {
      log.error(`console upgrade: ${(err as Error).stack}`);
      socket.destroy();
    });
  });
  return () => wss.close();
}
