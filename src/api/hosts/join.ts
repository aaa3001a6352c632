/**
 * POST /pcloud/hosts/join: where `pcloud host join` redeems a join token (src/cloud/hosts/tokens.ts) for what its host
 * needs to serve in this cloud: the state database's URL, the zones and its own, the region, and its host key. JSON in
 * and out; a refusal says what the operator can do, in `{ "error": … }`, and never anything of the database.
 */
import type { Hono } from 'hono';
import type { Cloud } from '../../cloud/index.js';
import { JoinRefused, NameServing, redeemToken, validHostName } from '../../cloud/hosts/tokens.js';
import { log } from '../../log.js';

/** What a joining host is told (src/cli/joined.ts keeps it in its data dir). */
export interface JoinAnswer {
  database: string;
  region: string;
  zones: string[];
  /** The zone its token named; absent: the host's own choice (PCLOUD_HOST_ZONE) or the first zone. */
  zone?: string;
  hostKey: string;
}

const refuse = (status: 400 | 403 | 409, error: string) => Response.json({ error }, { status });

export function hostJoinRoutes(app: Hono, cloud: Cloud, bodyOf: (req: Request) => Buffer | undefined): void {
  app.post('/pcloud/hosts/join', async (c) => {
    let asked: unknown;
    try {
      asked = JSON.parse((bodyOf(c.req.raw) ?? Buffer.alloc(0)).toString('utf8'));
    } catch {
      return refuse(400, 'the body must be JSON: {"token": "pcloud-join-…", "name": "<the host\'s hostname>"}');
    }
    const { token, name } = (asked ?? {}) as { token?: unknown; name?: unknown };
    if (!validHostName(name)) return refuse(400, 'the host\'s name must be its hostname: letters, digits, dots and hyphens, at most 253');
    const database = cloud.config.hosts.joinDatabaseUrl ?? cloud.databaseUrl;
    if (!database) {
      return refuse(409, 'this cloud keeps its state in SQLite in its data dir, which no other host can share: start its server with --database postgresql://… (PostgreSQL) to add hosts');
    }
    try {
      const { key, zone } = await redeemToken(cloud.db, token, name, cloud.config.hosts);
      log.info(`host ${name} joined${zone ? ` (zone ${zone})` : ''}`);
      const answer: JoinAnswer = { database, region: cloud.config.region, zones: cloud.config.availabilityZones, ...(zone ? { zone } : {}), hostKey: key };
      return Response.json(answer);
    } catch (err) {
      // Under the name of a serving host: a conflict with it; anything else the token's (or the name's) fault.
      if (err instanceof JoinRefused) return refuse(err instanceof NameServing ? 409 : 403, err.message);
      throw err;
    }
  });
}
