export const DEFAULT_DATA = process.env.PCLOUD_DATA ?? '/var/lib/pcloud';
export const DEFAULT_LISTEN = process.env.PCLOUD_LISTEN ?? '127.0.0.1:8773';
/** Where pcloud's nginx serves function URLs (and Invoke through it): PCLOUD_LAMBDA_LISTEN. */
export const DEFAULT_LAMBDA_LISTEN = '127.0.0.1:8774';

export function parseListen(listen: string): { hostname: string; port: number } {
  const i = listen.lastIndexOf(':');
  const hostname = i > 0 ? listen.slice(0, i).replace(/^\[|\]$/g, '') : '127.0.0.1';
  const port = Number(i >= 0 ? listen.slice(i + 1) : listen);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --listen ${listen}: expected HOST:PORT`);
  return { hostname, port };
}
