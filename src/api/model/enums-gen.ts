/**
 * The enum lists of the request members pcloud checks, generated from botocore's full service models (the aws-sdk v2
 * models pcloud reads carry none). The min models rename and inline shapes, so the two are walked together from each
 * operation's input by member name, and each enum is recorded at the min model's own address of the member:
 * `Sxx.Member` inside a named min shape, `@Operation.Member.Sub` inside an operation's inline input, `.[]` for a
 * list's member. Values are kept once per botocore shape name. Only input shapes; pure (no file access) so a test
 * can regenerate and compare.
 */

export interface RawShape {
  type?: string;
  shape?: string;
  members?: Record<string, RawShape>;
  member?: RawShape;
  enum?: string[];
}

export interface RawService {
  operations: Record<string, { input?: RawShape }>;
  shapes: Record<string, RawShape>;
}

export interface ServiceEnums {
  /** Each botocore enum shape's values. */
  values: Record<string, string[]>;
  /** Min-model member address → botocore enum shape name. */
  at: Record<string, string>;
}

const own = (o: Record<string, RawShape> | undefined, k: string) => (o && Object.hasOwn(o, k) ? o[k] : undefined);

export function generateEnums(min: RawService, boto: RawService): ServiceEnums {
  const at = new Map<string, string>();
  const conflicts = new Set<string>();
  const used = new Set<string>();
  const seen = new Set<string>();
  const record = (addr: string, name: string) => {
    const was = at.get(addr);
    if (was !== undefined && was !== name) conflicts.add(addr);
    at.set(addr, name);
  };
  const chase = (e: RawShape): RawShape => {
    let s = e;
    for (let i = 0; s.shape && i < 16; i++) s = own(min.shapes, s.shape) ?? {};
    return s;
  };
  /** `entry`: a min member entry at `addr`; `bname`: the botocore shape it stands for. */
  const walk = (entry: RawShape, bname: string | undefined, addr: string): void => {
    const b = bname === undefined ? undefined : own(boto.shapes, bname);
    if (!b || bname === undefined) return;
    if ((b.type ?? 'string') === 'string') {
      record(addr, b.enum ? bname : ''); // '' a plain string here: an enum elsewhere at the same address is a conflict
      return;
    }
    let base = addr;
    if (entry.shape) {
      const key = `${entry.shape}<${bname}`;
      if (seen.has(key)) return;
      seen.add(key);
      base = entry.shape;
    }
    const m = chase(entry);
    if (b.type === 'structure') {
      for (const [name, bm] of Object.entries(b.members ?? {})) {
        const e = own(m.members, name);
        if (e) walk(e, bm.shape, `${base}.${name}`);
      }
    } else if (b.type === 'list' && m.member) {
      walk(m.member, b.member?.shape, `${base}.[]`);
    }
  };
  for (const [op, o] of Object.entries(min.operations)) {
    const bo = boto.operations[op];
    if (o.input && bo?.input?.shape) walk(o.input, bo.input.shape, `@${op}`);
  }
  // A min shape two botocore shapes share with different enums (or one without) is left unchecked (permissive, never wrongly refused).
  for (const addr of conflicts) at.delete(addr);
  for (const [addr, name] of at) if (name === '') at.delete(addr);
  const sorted = [...at.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [, name] of sorted) used.add(name);
  const values: Record<string, string[]> = {};
  for (const name of [...used].sort()) values[name] = [...new Set(own(boto.shapes, name)?.enum ?? [])];
  return { values, at: Object.fromEntries(sorted) };
}

/** The services pcloud checks: the aws-sdk uid and botocore's directory. */
export const ENUM_SERVICES = [
  { key: 'ec2', uid: 'ec2-2016-11-15', boto: 'ec2/2016-11-15' },
  { key: 'lambda', uid: 'lambda-2015-03-31', boto: 'lambda/2015-03-31' },
  { key: 'iam', uid: 'iam-2010-05-08', boto: 'iam/2010-05-08' },
  { key: 'sts', uid: 'sts-2011-06-15', boto: 'sts/2011-06-15' },
] as const;
