/**
 * A function's tags (ListTags, TagResource, UntagResource), kept under its ARN. The invoke-mode tag is configuration:
 * tagging `pcloud:invoke-mode` switches the function between a process per request and a warm worker, untagging it
 * goes back to per-request.
 */
import { CloudError } from '../errors.js';
import type { Tag, Tags } from '../tags.js';
import type { FunctionCatalog } from './crud.js';
import { check } from './params.js';
import type { FunctionRecords } from './records.js';
import { MODE_TAG } from './types.js';

export class FunctionTagging {
  constructor(private readonly records: FunctionRecords, private readonly catalog: FunctionCatalog, private readonly tags: Tags) {}

  /** The ARN tags are kept under (the function's, whatever version `ref` names). */
  private async arnOf(accountId: string, ref: string): Promise<{ name: string; arn: string }> {
    const v = await this.records.get(accountId, ref);
    return { name: v.name, arn: this.records.names.arn(accountId, v.name) };
  }

  async list(accountId: string, ref: string): Promise<Tag[]> {
    const { arn } = await this.arnOf(accountId, ref);
    return (await this.tags.of([arn])).get(arn) ?? [];
  }

  async tag(accountId: string, ref: string, tags: Tag[]): Promise<void> {
    const { name, arn } = await this.arnOf(accountId, ref);
    // The invoke mode is checked before any tag is stored: a refused request leaves no tag behind.
    const mode = tags.find((t) => t.key === MODE_TAG)?.value;
    if (mode !== undefined) check({ mode }, false);
    await this.tags.put(accountId, [arn], tags);
    if (mode !== undefined) await this.catalog.updateConfiguration(accountId, name, { mode });
  }

  async untag(accountId: string, ref: string, keys: string[]): Promise<void> {
    const { name, arn } = await this.arnOf(accountId, ref);
    if (!keys.length) throw new CloudError('ValidationException', "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    await this.tags.remove(accountId, [arn], keys.map((key) => ({ key })));
    if (keys.includes(MODE_TAG)) await this.catalog.updateConfiguration(accountId, name, { mode: 'per-request' });
  }
}
