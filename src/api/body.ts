/**
 * Request bodies read with a bound: a body over the limit is read on and discarded (up to a further bound) before the
 * answer goes out, so that a client still sending gets its 413 rather than a connection reset, and its connection
 * can carry the next request.
 */

/** How much past the limit is read and thrown away before the connection is given up on. */
export const DRAIN_BOUND = 16 * 1024 * 1024;

export type BodyRead = { body: Buffer } | { tooLarge: true; drained: boolean };

/**
 * Read a request's body (the Node request itself where the server hands it over: no web stream made of it; else the
 * web Request's), up to `max` bytes.
 */
export async function readBody(body: AsyncIterable<Uint8Array> | null, max: number, drainBound = DRAIN_BOUND): Promise<BodyRead> {
  if (!body) return { body: Buffer.alloc(0) };
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early ends the stream (its iterator's return): the rest is not read.
  for await (const value of body) {
    size += value.byteLength;
    if (size > max + drainBound) return { tooLarge: true, drained: false };
    if (size <= max) chunks.push(value);
    else chunks.length = 0;
  }
  if (size > max) return { tooLarge: true, drained: true };
  return { body: Buffer.concat(chunks, size) };
}
