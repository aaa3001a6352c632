/**
 * A request's condition keys as the evaluation reads them: the caller's context (any case, looked up lower-cased), the
 * resource's own tags for `…:ResourceTag/KEY` (per resource), and the clock for aws:CurrentTime / aws:EpochTime when
 * the caller gave none. Built lazily: a request no condition or variable reads costs nothing here.
 */
import type { Lookup } from './template.js';

type Values = string | readonly string[];

export class RequestContext {
  private lower?: Map<string, Values>;

  constructor(private readonly context: ReadonlyMap<string, Values> | undefined) {}

  /** The request's value for a lower-cased key (without resource tags). */
  get(key: string): Values | undefined {
    if (!this.lower) {
      this.lower = new Map();
      if (this.context) for (const [k, v] of this.context) this.lower.set(k.toLowerCase(), v);
    }
    const v = this.lower.get(key);
    if (v !== undefined) return v;
    if (key === 'aws:currenttime') return new Date().toISOString();
    if (key === 'aws:epochtime') return String(Math.floor(Date.now() / 1000));
    return undefined;
  }

  /** Lookup for one resource: `SERVICE:resourcetag/KEY` from its tags (keys case-insensitive), else the request's. */
  forResource(tags: ReadonlyMap<string, string> | undefined): Lookup {
    if (!tags?.size) return (key) => this.get(key);
    let lowerTags: Map<string, string> | undefined;
    return (key) => {
      const at = key.indexOf(':resourcetag/');
      if (at > 0) {
        if (!lowerTags) {
          lowerTags = new Map();
          for (const [k, v] of tags) lowerTags.set(k.toLowerCase(), v);
        }
        const v = lowerTags.get(key.slice(at + 13));
        if (v !== undefined) return v;
      }
      return this.get(key);
    };
  }
}
