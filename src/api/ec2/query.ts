/**
 * The EC2 Query protocol's input: a form body of flattened parameters (`InstanceId.1`, `Filter.1.Name`,
 * `Filter.1.Value.1`, `TagSpecification.1.Tag.2.Key`), read through a small typed view.
 */
import { CloudError, invalidParam, missingParam } from '../../cloud/errors.js';
import type { Filter } from '../../cloud/tags.js';

export class Query {
  constructor(private readonly params: Map<string, string>, private readonly prefix = '') {}

  static parse(body: string): Query {
    const map = new Map<string, string>();
    if (body.length) {
      for (const part of body.split('&')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        const k = eq < 0 ? part : part.slice(0, eq);
        const v = eq < 0 ? '' : part.slice(eq + 1);
        try {
          map.set(decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' ')));
        } catch {
          throw new CloudError('InvalidParameterValue', 'The request body is not valid application/x-www-form-urlencoded data (bad percent-encoding).');
        }
      }
    }
    return new Query(map);
  }

  /** Merge parameters given in the URL's query string under those of the body (EC2 accepts both). */
  withDefaults(other: URLSearchParams): Query {
    for (const [k, v] of other) if (!this.params.has(k)) this.params.set(k, v);
    return this;
  }

  str(name: string): string | undefined {
    return this.params.get(this.prefix + name);
  }

  req(name: string): string {
    const v = this.str(name);
    if (v === undefined || v === '') throw missingParam(name);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.str(name);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw invalidParam(`Value (${v}) for parameter ${name} is invalid. Expected an integer.`);
    return Number(v);
  }

  bool(name: string): boolean | undefined {
    const v = this.str(name);
    if (v === undefined || v === '') return undefined;
    if (v.toLowerCase() === 'true') return true;
    if (v.toLowerCase() === 'false') return false;
    throw invalidParam(`Value (${v}) for parameter ${name} is invalid. Expected a boolean.`);
  }

  /** `Name.1`, `Name.2`, ... in order. */
  list(name: string): string[] {
    return this.indices(name).map((i) => this.str(`${name}.${i}`)!).filter((v) => v !== undefined);
  }

  /** Structures `Name.N.*`, each as its own view. */
  structs(name: string): Query[] {
    return this.indices(name).map((i) => new Query(this.params, `${this.prefix}${name}.${i}.`));
  }

  /** A nested structure `Name.*`. */
  sub(name: string): Query {
    return new Query(this.params, `${this.prefix}${name}.`);
  }

  has(name: string): boolean {
    const full = this.prefix + name;
    for (const k of this.params.keys()) if (k === full || k.startsWith(full + '.')) return true;
    return false;
  }

  filters(): Filter[] {
    return this.structs('Filter').map((f) => {
      const name = f.str('Name');
      if (!name) throw missingParam('Filter.N.Name');
      return { name, values: f.list('Value') };
    });
  }

  /** `TagSpecification.N.ResourceType` with its `Tag.M.Key/Value`s. */
  tagSpecifications(): { resourceType: string; tags: { key: string; value: string }[] }[] {
    return this.structs('TagSpecification').map((s) => ({
      resourceType: s.str('ResourceType') ?? '',
      tags: s.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' })),
    }));
  }

  private indices(name: string): number[] {
    const full = this.prefix + name + '.';
    const seen = new Set<number>();
    for (const k of this.params.keys()) {
      if (!k.startsWith(full)) continue;
      const n = Number(k.slice(full.length).split('.')[0]);
      if (Number.isInteger(n) && n > 0) seen.add(n);
    }
    return [...seen].sort((a, b) => a - b);
  }
}
