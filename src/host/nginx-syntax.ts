/**
 * Values for pcloud's nginx configuration (templates in nginx/). Every value pcloud writes there is a path, an address,
 * an id or a name validated upstream, so instead of quoting, a value must be one nginx token from a small alphabet:
 * nothing that ends a directive or a block (`;`, `{`, `}`), quotes, escapes, comments (`#`), whitespace, variables
 * (`$`: proxy_pass and friends would expand them), control characters or NUL. Anything else is refused.
 */
import { escapedAs, type Escaped } from './template.js';

export class NginxValueError extends Error {
  override name = 'NginxValueError';
}

const TOKEN = /^[A-Za-z0-9._:/@+=,[\]-]+$/;
/** Far below nginx's limit on one token (its configuration buffer is 4 KiB). */
const MAX = 1024;

/** One nginx token, as it is. */
export function nginxToken(s: string, what = 'A value'): Escaped<'nginx'> {
  if (!TOKEN.test(s) || s.length > MAX) {
    throw new NginxValueError(`${what} cannot be written into the nginx configuration: use letters, digits and . _ : / @ + = , [ ] - only (at most ${MAX})`);
  }
  return escapedAs('nginx', s);
}
