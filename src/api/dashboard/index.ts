/**
 * The operator's web dashboard, on the API's port under /pcloud/dashboard:
 * - `GET /pcloud/dashboard` SigV4-presigned (`pcloud dashboard` prints such a URL, as `pcloud console` does for a
 *   console): the signer's session begins (a signed token in an HttpOnly cookie, dashboard.ts) and the browser is sent
 *   to the same path without the signature. With a session, the page; without, a page that says how to sign in (401).
 * - `/pcloud/dashboard/app.js`, `/app.css`: the page's script and style (no data in them).
 * - `/pcloud/dashboard/state`: what the page shows, as JSON (state.ts), each read authorized as the session's key.
 * - `/pcloud/dashboard/console/i-…`: a q35 VM's console page, as /pcloud/console/i-… serves it, for the session's key
 *   (ec2:GetConsoleScreenshot on the instance, as the console asks).
 * Every answer: no caching, no framing, and a Content-Security-Policy that allows only this origin's script, style
 * and fetches (no inline script at all).
 */
import type { Socket } from 'node:net';
import type { Context, Hono } from 'hono';
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { rootIdentity } from '../../cloud/iam/identity.js';
import { SESSION_TTL_SEC } from '../../cloud/dashboard.js';
import { AuthError, verify, type Principal } from '../auth/sigv4.js';
import { originOf, type Origin } from '../auth/origin.js';
import { authorizeConsole } from '../ec2/access.js';
import { consolePage } from '../console/page.js';
import { DASHBOARD_PAGE, DASHBOARD_STYLE, messagePage, signInPage } from './page.js';
import { DASHBOARD_SCRIPT } from './script.js';
import { dashboardState } from './state.js';

export const DASHBOARD_PATH = '/pcloud/dashboard';
const COOKIE = 'pcloud_dashboard';
const CONSOLE = /^\/pcloud\/dashboard\/console\/(i-[0-9a-f]{8,17})$/;

/**
 * What every dashboard answer carries. The console page is /pcloud/console's own (noVNC started by an inline module
 * script holding only the instance id and its token, both pcloud's): it is kept from frames only.
 */
const STRICT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const CONSOLE_CSP = "frame-ancestors 'none'";

function headers(type: string, csp = STRICT_CSP): Record<string, string> {
  return {
    'content-type': type, 'cache-control': 'no-store', 'content-security-policy': csp, 'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
  };
}

const html = (body: string, status = 200, extra: Record<string, string> = {}, csp?: string) =>
  new Response(body, { status, headers: { ...headers('text/html; charset=utf-8', csp), ...extra } });

const originOfContext = (c: Context): Origin => originOf((c.env as { incoming?: { socket?: Socket } } | undefined)?.incoming?.socket);

/** The session cookie's value, if the request has one. */
function cookieOf(req: Request): string | undefined {
  for (const part of (req.headers.get('cookie') ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

/** The principal of the request's session (its key found again now), or undefined. */
async function sessionPrincipal(cloud: Cloud, req: Request): Promise<Principal | undefined> {
  const token = cookieOf(req);
  const s = token ? await cloud.dashboard.session(token) : undefined;
  if (!s) return undefined;
  return {
    accountId: s.key.accountId, accessKeyId: s.key.accessKeyId, region: s.region, service: 'ec2',
    identity: s.key.identity ?? rootIdentity(s.key.accountId), ...(s.key.session ? { temporary: true } : {}),
  };
}

export function dashboardRoutes(app: Hono, cloud: Cloud): void {
  app.get(`${DASHBOARD_PATH}/app.js`, () => new Response(DASHBOARD_SCRIPT, { headers: headers('text/javascript; charset=utf-8') }));
  app.get(`${DASHBOARD_PATH}/app.css`, () => new Response(DASHBOARD_STYLE, { headers: headers('text/css; charset=utf-8') }));

  app.get(DASHBOARD_PATH, async (c) => {
    const url = new URL(c.req.url);
    if (url.searchParams.has('X-Amz-Signature') || url.searchParams.has('X-Amz-Credential')) {
      let principal: Principal;
      try {
        principal = await verify({ method: 'GET', url: url.pathname + url.search, headers: c.req.raw.headers, body: Buffer.alloc(0) }, (k) => cloud.iam.findKey(k),
          Date.now(), { regions: [cloud.config.region] });
      } catch (err) {
        if (err instanceof AuthError) return html(signInPage(`This sign-in URL was refused: ${err.message}`), 403);
        throw err;
      }
      const token = await cloud.dashboard.open(principal.accessKeyId, principal.region);
      const secure = originOfContext(c).secure ? '; Secure' : '';
      // Lax, not Strict: the sign-in URL is often opened from another site (a chat, a terminal's link), and the page it
      // leads to must then have its cookie. Every route that reads with it is a GET whose answer only this origin reads.
      return new Response(null, {
        status: 303,
        headers: { ...headers('text/plain'), location: DASHBOARD_PATH, 'set-cookie': `${COOKIE}=${token}; Path=${DASHBOARD_PATH}; Max-Age=${SESSION_TTL_SEC}; HttpOnly; SameSite=Lax${secure}` },
      });
    }
    if (!(await sessionPrincipal(cloud, c.req.raw))) return html(signInPage('You have no session, or it has ended.'), 401);
    return html(DASHBOARD_PAGE);
  });

  app.get(`${DASHBOARD_PATH}/state`, async (c) => {
    const principal = await sessionPrincipal(cloud, c.req.raw);
    if (!principal) return new Response('{"message":"No dashboard session: open a new URL from pcloud dashboard."}', { status: 401, headers: headers('application/json') });
    return new Response(JSON.stringify(await dashboardState(cloud, principal, originOfContext(c))), { headers: headers('application/json') });
  });

  app.get(`${DASHBOARD_PATH}/console/:id`, async (c) => {
    const id = CONSOLE.exec(c.req.path)?.[1];
    if (!id) return c.notFound();
    const principal = await sessionPrincipal(cloud, c.req.raw);
    if (!principal) return html(signInPage('You have no session, or it has ended.'), 401);
    try {
      await authorizeConsole(cloud, principal, originOfContext(c), id);
      const token = await cloud.consoles.issue(principal.accountId, id);
      return html(consolePage(id, `/pcloud/console/${id}/websocket?token=${encodeURIComponent(token)}`), 200, {}, CONSOLE_CSP);
    } catch (err) {
      if (err instanceof CloudError) {
        const status = err.code === 'UnauthorizedOperation' ? 403 : err.code.endsWith('NotFound') ? 404 : 409;
        return html(messagePage(`The console of ${id} cannot be opened`, `${err.code}: ${err.message}`), status);
      }
      throw err;
    }
  });
}
