export const DEFAULT_DATA = process.env.PCLOUD_DATA ?? '/var/lib/pcloud';
export const DEFAULT_LISTEN = process.env.PCLOUD_LISTEN ?? '127.0.0.1:8773';
/** Where pcloud's nginx serves function URLs (and Invoke through it): PCLOUD_LAMBDA_LISTEN. */
export const DEFAULT_LAMBDA_LISTEN = '127.0.0.1:8774';

export function lambdaListenFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.PCLOUD_LAMBDA_LISTEN ?? DEFAULT_LAMBDA_LISTEN;
}

/** The PostgreSQL URL the state is in: --database, else PCLOUD_DATABASE_URL; none: SQLite in the data dir. */
export function databaseOf(opts: { database?: string }): string | undefined {
  return opts.database ?? (process.env.PCLOUD_DATABASE_URL || undefined);
}
