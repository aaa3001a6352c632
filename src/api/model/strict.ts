/**
 * Strict shapes: a response member the service model does not have (or of another type) fails the request with an
 * internal error that names it, instead of being left out. On for every test run (vitest's setup turns it on from
 * PCLOUD_STRICT_SHAPES=1), off in service unless the server's settings turn it on.
 */
let strict = false;

export const strictShapes = (): boolean => strict;

export function setStrictShapes(on: boolean): void {
  strict = on;
}
