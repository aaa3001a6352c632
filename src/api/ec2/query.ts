/**
 * The EC2 Query protocol's input: a form body of flattened parameters (`InstanceId.1`, `Filter.1.Name`,
 * `Filter.1.Value.1`, `TagSpecification.1.Tag.2.Key`), read through a small typed view.
 */
import { CloudError, invalidParam, missingParam } from '../../cloud/errors.js';
import type { Filter } from '../../cloud/filters.js';
import { unservable } from '../../cloud/text.js';

/** AWS: "The maximum number of filter values specified on a single call is 200". */
export const MAX_FILTER_VALUES = 200;
/** The longest filter value: longer than anything pcloud stores (tag values are at most 256 characters). */
export const MAX_FILTER_VALUE_LENGTH = 1024;
/** The most members one list or structure list may have (AWS takes ids in batches of up to 1,000). */
export const MAX_LIST = 1000;

const filterLimit = () =>
  new CloudError('FilterLimitExceeded', `The maximum number of filter values specified on a single call is ${MAX_FILTER_VALUES}`);

export class Query {
  constructor(
    private readonly params: Map<string, string>,
    private readonly prefix = '',
    /** For each `Prefix.` that some parameter continues with `N.` or `N`: those Ns (built once, shared by views). */
    private readonly index: { byPrefix?: Map<string, Set<number>> } = {},
  ) {}

  static parse(body: string): Query {
    const map = new Map<string, string>();
    if (body.length) {
      for (const part of body.split('&')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        const k = eq < 0 ? part : part.slice(0, eq);
        const v = eq < 0 ? '' : part.slice(eq + 1);
        let name: string;
        let value: string;
        try {
          name = decodeURIComponent(k.replace(/\+/g, ' '));
          value = decodeURIComponent(v.replace(/\+/g, ' '));
        } catch {
          throw new CloudError('InvalidParameterValue', 'The request body is not valid application/x-www-form-urlencoded data (bad percent-encoding).');
        }
        Query.check(name, value);
        map.set(name, value);
      }
    }
    return new Query(map);
  }

  /** Every parameter can be served back in XML: characters XML 1.0 cannot carry (NUL, most controls) are refused. */
  private static check(name: string, value: string): void {
    if (unservable(name)) throw invalidParam('Parameter names must not contain control characters.');
    if (unservable(value)) {
      throw invalidParam(`Value for parameter ${name.slice(0, 64)} is invalid: it contains characters that are not allowed (control characters or unpaired surrogates).`);
    }
  }

  /** Merge parameters given in the URL's query string under those of the body (EC2 accepts both). */
  withDefaults(other: URLSearchParams): Query {
    for (const [k, v] of other) {
      if (this.params.has(k)) continue;
      Query.check(k, v);
      this.params.set(k, v);
    }
    this.index.byPrefix = undefined;
    return this;
  }

  /** Every parameter (name, value) as the request gave it. */
  entries(): (readonly [string, string])[] {
    return [...this.params];
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
    return this.indices(name).map((i) => new Query(this.params, `${this.prefix}${name}.${i}.`, this.index));
  }

  /** A nested structure `Name.*`. */
  sub(name: string): Query {
    return new Query(this.params, `${this.prefix}${name}.`, this.index);
  }

  has(name: string): boolean {
    const full = this.prefix + name;
    for (const k of this.params.keys()) if (k === full || k.startsWith(full + '.')) return true;
    return false;
  }

  /** `Filter.N.Name` with its `Value.M`s: at most 200 values in all (each filter counts at least one), as on AWS. */
  filters(): Filter[] {
    if ((this.indexed().get(`${this.prefix}Filter.`)?.size ?? 0) > MAX_FILTER_VALUES) throw filterLimit();
    const structs = this.structs('Filter');
    let count = 0;
    const out: Filter[] = [];
    for (const f of structs) {
      const name = f.str('Name');
      if (!name) throw missingParam('Filter.N.Name');
      const values = f.list('Value');
      count += Math.max(values.length, 1);
      if (count > MAX_FILTER_VALUES) throw filterLimit();
      if (!values.length) throw invalidParam(`The filter '${name}' must have at least one value.`);
      const long = values.find((v) => v.length > MAX_FILTER_VALUE_LENGTH);
      if (long !== undefined) throw invalidParam(`The filter value '${long.slice(0, 20)}...' exceeds the maximum length of ${MAX_FILTER_VALUE_LENGTH} characters.`);
      out.push({ name, values });
    }
    return out;
  }

  /** `TagSpecification.N.ResourceType` with its `Tag.M.Key/Value`s. */
  tagSpecifications(): { resourceType: string; tags: { key: string; value: string }[] }[] {
    return this.structs('TagSpecification').map((s) => ({
      resourceType: s.str('ResourceType') ?? '',
      tags: s.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' })),
    }));
  }

  private indices(name: string): number[] {
    const seen = this.indexed().get(this.prefix + name + '.');
    if (seen && seen.size > MAX_LIST) throw invalidParam(`The maximum number of ${this.prefix}${name}.N members is ${MAX_LIST}.`);
    return seen ? [...seen].sort((a, b) => a - b) : [];
  }

  /** One pass over the parameters, so that reading N structures costs N lookups, not N passes. */
  private indexed(): Map<string, Set<number>> {
    if (this.index.byPrefix) return this.index.byPrefix;
    const byPrefix = new Map<string, Set<number>>();
    for (const k of this.params.keys()) {
      const parts = k.split('.');
      let prefix = '';
      for (const part of parts) {
        if (prefix && /^[1-9]\d{0,8}$/.test(part)) {
          const set = byPrefix.get(prefix) ?? new Set<number>();
          set.add(Number(part));
          byPrefix.set(prefix, set);
        }
        prefix += part + '.';
      }
    }
    this.index.byPrefix = byPrefix;
    return byPrefix;
  }
}
