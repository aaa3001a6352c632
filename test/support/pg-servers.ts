/**
 * Two API servers, each with a fake host of its own, on one throwaway PostgreSQL (Debian's): started before a file's
 * tests, stopped after them. Nothing starts where PostgreSQL is missing (the file's tests skip, saying why).
 */
import { afterAll, beforeAll } from 'vitest';
import { startApi, type TestApi } from './api.js';
import { startPostgres, type Postgres } from './postgres.js';

type ApiOptions = Omit<NonNullable<Parameters<typeof startApi>[0]>, 'database'>;

export interface ServersOnPostgres {
  pg: Postgres;
  a: TestApi;
  b: TestApi;
}

/** `b`'s options may read `a` (its config, as a second host of the same cloud). */
export function serversOnPostgres(missing: string | undefined, opts: { a?: ApiOptions; b?: (a: TestApi) => ApiOptions } = {}): ServersOnPostgres {
  const servers = {} as Partial<ServersOnPostgres>;
  beforeAll(async () => {
    if (missing) return;
    servers.pg = await startPostgres();
    servers.a = await startApi({ ...opts.a, database: servers.pg.url });
    servers.b = await startApi({ ...opts.b?.(servers.a), database: servers.pg.url });
  }, 120_000);
  afterAll(async () => {
    await servers.b?.close();
    await servers.a?.close();
    await servers.pg?.stop();
  });
  return servers as ServersOnPostgres;
}
