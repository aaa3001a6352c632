import { CloudError, invalidParam } from '../../../cloud/errors.js';
import { filterRows } from '../../../cloud/filters.js';
import { keyPairFields } from '../../../cloud/keypairs.js';
import { dryRunCheck, tagOnCreate, type Actions } from '../context.js';
import { tagSet } from '../shapes.js';

export const keyPairActions: Actions = {
  CreateKeyPair: {
    dryRun: 'self',
    handler: async (ctx) => {
      const name = ctx.q.req('KeyName');
      const type = ctx.q.str('KeyType') || 'rsa';
      if (type !== 'rsa' && type !== 'ed25519') throw invalidParam(`Invalid KeyType '${type}'. Valid values: rsa, ed25519`);
      const format = ctx.q.str('KeyFormat') || 'pem';
      if (format !== 'pem') throw new CloudError('Unsupported', `KeyFormat '${format}' is not supported: only pem`);
      dryRunCheck(ctx);
      const { pair, privateKey } = await ctx.cloud.keyPairs.create(ctx.accountId, name, type);
      await tagOnCreate(ctx, pair.id);
      return { keyName: pair.name, keyFingerprint: pair.fingerprint, keyMaterial: privateKey, keyPairId: pair.id, tagSet: tagSet((await ctx.cloud.tags.of([pair.id])).get(pair.id)) };
    },
  },

  ImportKeyPair: {
    dryRun: 'self',
    handler: async (ctx) => {
      const name = ctx.q.req('KeyName');
      const material = Buffer.from(ctx.q.req('PublicKeyMaterial'), 'base64').toString('utf8');
      dryRunCheck(ctx);
      const pair = await ctx.cloud.keyPairs.import(ctx.accountId, name, material);
      await tagOnCreate(ctx, pair.id);
      return { keyName: pair.name, keyFingerprint: pair.fingerprint, keyPairId: pair.id, tagSet: tagSet((await ctx.cloud.tags.of([pair.id])).get(pair.id)) };
    },
  },

  DescribeKeyPairs: {
    handler: async (ctx) => {
      const all = await ctx.cloud.keyPairs.list(ctx.accountId, ctx.q.list('KeyName'), ctx.q.list('KeyPairId'));
      const tags = await ctx.cloud.tags.of(all.map((r) => r.id));
      const includePublic = ctx.q.bool('IncludePublicKey') ?? false;
      const rows = filterRows(all, ctx.q.filters(), keyPairFields, tags);
      return {
        keySet: rows.map((r) => ({
          keyPairId: r.id, keyName: r.name, keyFingerprint: r.fingerprint, keyType: r.keyType,
          publicKey: includePublic ? r.publicKey : undefined, createTime: new Date(r.createdAt), tagSet: tagSet(tags.get(r.id)),
        })),
      };
    },
  },

  DeleteKeyPair: {
    dryRun: 'self',
    handler: async (ctx) => {
      const name = ctx.q.str('KeyName');
      const id = ctx.q.str('KeyPairId');
      if (!name && !id) throw new CloudError('MissingParameter', 'The request must contain the parameter KeyName or KeyPairId');
      dryRunCheck(ctx);
      const deleted = await ctx.cloud.keyPairs.delete(ctx.accountId, { name, id });
      if (deleted) await ctx.cloud.tags.removeAll([deleted]);
      return { return: true, keyPairId: deleted };
    },
  },
};

