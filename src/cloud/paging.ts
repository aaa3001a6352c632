/**
 * One paging rule for every Describe/List call: a page token is pcloud's own opaque string (base64url of
 * `{"o": offset}`), a forged or foreign one is InvalidPaginationToken (or the service's own code), and a page holds at
 * most `max` items, with a token for the rest.
 */
import { CloudError, type ErrorCode } from './errors.js';

export interface PageRequest {
  /** Items per page; undefined: all of them. */
  max?: number;
  /** The token of the previous page, as handed out. */
  token?: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** Offsets far past any page pcloud hands out are forged (SQLite's OFFSET is 64-bit; lists are never this long). */
const MAX_OFFSET = 2 ** 31;

/** The offset a token stands for (0 without one). */
export function pageOffset(token: string | undefined, code: ErrorCode = 'InvalidPaginationToken'): number {
  if (token === undefined || token === '') return 0;
  try {
    const o = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown } | null)?.o;
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0 && o <= MAX_OFFSET) return o;
  } catch { /* fall through */ }
  throw new CloudError(code, `Invalid pagination token: ${token.slice(0, 40)}`);
}

/** The token for a page starting at `offset`. */
export function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

/**
 * A page of `rows` fetched from `offset` with one extra row asked for (`LIMIT max + 1`): trims the extra one and says
 * whether there is a next page. For lists in memory, use pageOf.
 */
export function pageFetched<T>(rows: T[], offset: number, max: number | undefined): Page<T> {
  if (max === undefined || rows.length <= max) return { items: rows };
  return { items: rows.slice(0, max), nextToken: pageToken(offset + max) };
}

/** A page of a list held in memory. */
export function pageOf<T>(all: T[], req: PageRequest, code?: ErrorCode): Page<T> {
  const offset = pageOffset(req.token, code);
  return pageFetched(all.slice(offset, req.max === undefined ? undefined : offset + req.max + 1), offset, req.max);
}
