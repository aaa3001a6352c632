/**
 * Aliases: a name for one of a function's versions ($LATEST or a published number), optionally with one more version
 * that gets a share of the invocations (RoutingConfig.AdditionalVersionWeights). Invoke, GetFunction and the resource
 * policy take an alias as a qualifier; an alias may have a function URL of its own (urls.ts).
 */
import { write } from '../../db/store.js';
import { randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { functionAliases } from '../../db/tables.js';
import { CloudError } from '../errors.js';
import type { FunctionRecords } from './records.js';
import { invalid } from './types.js';

export type AliasRow = typeof functionAliases.$inferSelect;

/** An alias as Get/Create/UpdateAlias show it. */
export interface AliasView {
  arn: string;
  name: string;
  version: string;
  description: string;
  routing?: { version: string; weight: number };
  revision: string;
}

/** What CreateAlias/UpdateAlias give (undefined: unchanged on update; routing null: none). */
export interface AliasInput {
  version?: string;
  description?: string;
  routing?: { version: string; weight: number } | null;
}

/** Lambda's alias names: not a number (that is a version), letters, digits, `-` and `_`. */
const ALIAS = /^[a-zA-Z0-9_-]{1,128}$/;
const VERSION = /^(\$LATEST|\d{1,10})$/;

/**
 * The version an invocation of the alias runs: its own, or its routing config's with that weight's chance (`roll` is
 * a number in [0, 1)).
 */
export function pickVersion(r: Pick<AliasRow, 'version' | 'extraVersion' | 'extraWeight'>, roll = Math.random()): string {
  return r.extraVersion !== null && r.extraWeight !== null && roll < r.extraWeight ? r.extraVersion : r.version;
}

export const isAliasName = (s: string) => ALIAS.test(s) && !/^\d+$/.test(s);

export class FunctionAliases {
  constructor(private readonly db: Db, private readonly records: FunctionRecords) {}

  private where(accountId: string, fn: string, name: string) {
    return and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, fn), eq(functionAliases.name, name));
  }

  /** The alias' row, if the function has one of that name. */
  async find(accountId: string, fn: string, name: string): Promise<AliasRow | undefined> {
    return await this.records.alias(accountId, fn, name);
  }

  async row(accountId: string, fn: string, name: string): Promise<AliasRow> {
    const r = isAliasName(name) ? (await this.find(accountId, fn, name)) : undefined;
    if (!r) throw new CloudError('ResourceNotFoundException', `Alias not found: ${this.records.names.arn(accountId, fn, name.slice(0, 128))}`);
    return r;
  }

  view(r: AliasRow): AliasView {
    return {
      arn: this.records.names.arn(r.accountId, r.functionName, r.name), name: r.name, version: r.version, description: r.description,
      routing: r.extraVersion !== null && r.extraWeight !== null ? { version: r.extraVersion, weight: r.extraWeight } : undefined, revision: r.revision,
    };
  }

  async get(accountId: string, ref: string, name: string): Promise<AliasView> {
    const fn = await this.function(accountId, ref);
    return this.view(await this.row(accountId, fn, name));
  }

  async create(accountId: string, ref: string, name: string, input: AliasInput): Promise<AliasView> {
    return await write(this.db, async () => {
      const fn = await this.function(accountId, ref);
      if (!isAliasName(name)) {
        throw new CloudError('ValidationException', `1 validation error detected: Value '${name.slice(0, 200)}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)`);
      }
      if (input.version === undefined) throw new CloudError('ValidationException', "1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null");
      await this.check(accountId, fn, input.version, input.routing ?? undefined, input.description);
      if ((await this.find(accountId, fn, name))) throw new CloudError('ResourceConflictException', `Alias already exists: ${this.records.names.arn(accountId, fn, name)}`);
      await this.db.insert(functionAliases).values({
        accountId, functionName: fn, name, version: input.version, description: input.description ?? '', extraVersion: input.routing?.version ?? null,
        extraWeight: input.routing?.weight ?? null, revision: randomUUID(), createdAt: Date.now(),
      });
      return await this.get(accountId, fn, name);
    });
  }

  /** UpdateAlias: a RevisionId given must be the alias' current one (PreconditionFailedException otherwise). */
  async update(accountId: string, ref: string, name: string, input: AliasInput, revisionId?: string): Promise<AliasView> {
    const fn = await this.function(accountId, ref);
    const r = await this.row(accountId, fn, name);
    if (revisionId !== undefined && revisionId !== r.revision) {
      throw new CloudError('PreconditionFailedException', 'The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id');
    }
    const version = input.version ?? r.version;
    const routing = input.routing === undefined ? this.view(r).routing : input.routing ?? undefined;
    await this.check(accountId, fn, version, routing, input.description);
    await this.db.update(functionAliases).set({
      version, description: input.description ?? r.description, extraVersion: routing?.version ?? null, extraWeight: routing?.weight ?? null, revision: randomUUID(),
    }).where(this.where(accountId, fn, name));
    return await this.get(accountId, fn, name);
  }

  async delete(accountId: string, ref: string, name: string): Promise<AliasRow> {
    const fn = await this.function(accountId, ref);
    const r = await this.row(accountId, fn, name);
    await this.db.delete(functionAliases).where(this.where(accountId, fn, name));
    return r;
  }

  /** ListAliases: the function's aliases by name (those routing to `version` only, with one). */
  async list(accountId: string, ref: string, version?: string): Promise<AliasView[]> {
    const fn = await this.function(accountId, ref);
    return (await this.db.select().from(functionAliases).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, fn)))
      .orderBy(asc(functionAliases.name))).filter((r) => version === undefined || r.version === version || r.extraVersion === version).map((r) => this.view(r));
  }

  /** Every alias of a function (its URLs and policies go with it). */
  async rowsOf(accountId: string, fn: string): Promise<AliasRow[]> {
    return await this.db.select().from(functionAliases).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, fn)));
  }

  /** The aliases that route to a version (which cannot be deleted while they do). */
  async routingTo(accountId: string, fn: string, version: string): Promise<AliasRow[]> {
    return (await this.rowsOf(accountId, fn)).filter((r) => r.version === version || r.extraVersion === version);
  }

  async deleteAll(accountId: string, fn: string): Promise<void> {
    await this.db.delete(functionAliases).where(and(eq(functionAliases.accountId, accountId), eq(functionAliases.functionName, fn)));
  }

  /** The function's name (an alias-qualified ARN is not a FunctionName here, as in Lambda). */
  private async function(accountId: string, ref: string): Promise<string> {
    const q = this.records.names.parse(accountId, ref);
    if (q.qualifier !== undefined) throw invalid(`The function name must not be qualified here: ${ref.slice(0, 170)}`);
    await this.records.row(accountId, q.name);
    return q.name;
  }

  /** The versions exist, the routing is one other published version with a weight from 0 to 1, as Lambda takes them. */
  private async check(accountId: string, fn: string, version: string, routing: { version: string; weight: number } | undefined, description?: string): Promise<void> {
    if (!VERSION.test(version)) {
      throw new CloudError('ValidationException', `1 validation error detected: Value '${version.slice(0, 200)}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)`);
    }
    await this.records.get(accountId, fn, version);
    if (description !== undefined && (description.length > 256 || description.includes('\0'))) {
      throw new CloudError('ValidationException', "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256");
    }
    if (!routing) return;
    if (!/^\d{1,10}$/.test(routing.version)) throw invalid(`Invalid function version ${routing.version.slice(0, 200)}. Function version ${routing.version.slice(0, 200)} is not a published version.`);
    if (!(routing.weight >= 0 && routing.weight <= 1)) {
      throw new CloudError('ValidationException', `1 validation error detected: Value '${routing.weight}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]`);
    }
    if (version === '$LATEST') throw invalid('$LATEST is not supported for an alias pointing to more than 1 version');
    if (routing.version === version) throw invalid(`Invalid function version ${version}. Function version ${version} is already included in primary version pointer.`);
    await this.records.get(accountId, fn, routing.version);
  }
}
