/** EC2 launch template actions: parse the Query, call the domain (src/cloud/launch-templates.ts), shape the answer. */
import { inOrder } from '../../../cloud/in-order.js';
import type { Tag } from '../../../cloud/tags.js';
import { invalidParam } from '../../../cloud/errors.js';
import { TEMPLATE_TOKEN_MAX, type LaunchTemplate, type LaunchTemplateVersion, type TemplateRef } from '../../../cloud/launch-templates.js';
import { once, tokenRequest } from '../client-token.js';
import type { Actions, Ctx } from '../context.js';
import type { Query } from '../query.js';
import { tagSet } from '../shapes.js';
import { readTemplateData, templateDataShape } from '../template-data.js';

function ref(q: Query): TemplateRef {
  return { id: q.str('LaunchTemplateId') || undefined, name: q.str('LaunchTemplateName') || undefined };
}

async function templateShape(ctx: Ctx, t: LaunchTemplate, known?: Tag[]) {
  const tags = known ?? (await ctx.cloud.tags.of([t.id])).get(t.id);
  return {
    launchTemplateId: t.id,
    launchTemplateName: t.name,
    createTime: new Date(t.createdAt),
    createdBy: t.createdBy,
    defaultVersionNumber: t.defaultVersion,
    latestVersionNumber: t.latestVersion,
    tagSet: tags?.length ? tagSet(tags) : undefined,
  };
}

function versionShape(v: LaunchTemplateVersion) {
  return {
    launchTemplateId: v.templateId,
    launchTemplateName: v.templateName,
    versionNumber: v.version,
    versionDescription: v.description ?? undefined,
    createTime: new Date(v.createdAt),
    createdBy: v.createdBy,
    defaultVersion: v.isDefault,
    launchTemplateData: templateDataShape(v.data),
  };
}

/** Tags on the template itself (TagSpecification with ResourceType launch-template, the only type it takes). */
function templateTags(q: Query) {
  const specs = q.tagSpecifications();
  const other = specs.find((s) => s.resourceType !== 'launch-template');
  if (other) throw invalidParam(`'${other.resourceType.slice(0, 64)}' is not a valid taggable resource type for this operation.`);
  return specs.flatMap((s) => s.tags);
}

export const launchTemplateActions: Actions = {
  CreateLaunchTemplate: {
    dryRun: 'self',
    handler: async (ctx) => {
      const q = ctx.q;
      const { template } = await ctx.cloud.instances.templates.create(ctx.accountId, {
        request: tokenRequest(ctx, 'CreateLaunchTemplate', TEMPLATE_TOKEN_MAX),
        name: q.req('LaunchTemplateName'),
        description: q.str('VersionDescription'),
        data: readTemplateData(q),
        tags: templateTags(q),
      }, ctx.dryRun);
      return { launchTemplate: await templateShape(ctx, template) };
    },
  },

  CreateLaunchTemplateVersion: {
    dryRun: 'self',
    handler: async (ctx) => {
      const q = ctx.q;
      const v = await ctx.cloud.instances.templates.createVersion(ctx.accountId, ref(q), {
        request: tokenRequest(ctx, 'CreateLaunchTemplateVersion', TEMPLATE_TOKEN_MAX),
        sourceVersion: q.str('SourceVersion') || undefined,
        description: q.str('VersionDescription'),
        data: readTemplateData(q),
      }, ctx.dryRun);
      return { launchTemplateVersion: versionShape(v) };
    },
  },

  ModifyLaunchTemplate: {
    dryRun: 'self',
    handler: async (ctx) => {
      const templates = ctx.cloud.instances.templates;
      const req = tokenRequest(ctx, 'ModifyLaunchTemplate', TEMPLATE_TOKEN_MAX);
      const t = await once(ctx, req, async () => {
              const changed = await templates.setDefault(ctx.accountId, ref(ctx.q), ctx.q.str('SetDefaultVersion') || undefined, ctx.dryRun);
        return { id: changed.id, value: changed };
            }, async (id) => await templates.get(ctx.accountId, { id }));
      return { launchTemplate: await templateShape(ctx, t) };
    },
  },

  DescribeLaunchTemplates: {
    handler: async (ctx) => {
      const q = ctx.q;
      const page = await ctx.cloud.instances.templates.describe(ctx.accountId, {
        ids: q.list('LaunchTemplateId'), names: q.list('LaunchTemplateName'), filters: q.filters(),
        maxResults: q.int('MaxResults'), nextToken: q.str('NextToken') || undefined,
      });
      const tags = await ctx.cloud.tags.of(page.templates.map((t) => t.id));
      return { launchTemplates: await inOrder(page.templates, (t) => templateShape(ctx, t, tags.get(t.id))), nextToken: page.nextToken };
    },
  },

  DescribeLaunchTemplateVersions: {
    handler: async (ctx) => {
      const q = ctx.q;
      const page = await ctx.cloud.instances.templates.describeVersions(ctx.accountId, ref(q), {
        versions: q.list('LaunchTemplateVersion'), min: q.str('MinVersion') || undefined, max: q.str('MaxVersion') || undefined, filters: q.filters(),
        maxResults: q.int('MaxResults'), nextToken: q.str('NextToken') || undefined,
      });
      return { launchTemplateVersionSet: page.versions.map(versionShape), nextToken: page.nextToken };
    },
  },

  DeleteLaunchTemplate: {
    dryRun: 'self',
    handler: async (ctx) => {
      const t = await ctx.cloud.instances.templates.delete(ctx.accountId, ref(ctx.q), ctx.dryRun);
      return { launchTemplate: await templateShape(ctx, t, []) };
    },
  },

  DeleteLaunchTemplateVersions: {
    dryRun: 'self',
    handler: async (ctx) => {
      const r = await ctx.cloud.instances.templates.deleteVersions(ctx.accountId, ref(ctx.q), ctx.q.list('LaunchTemplateVersion'), ctx.dryRun);
      return {
        successfullyDeletedLaunchTemplateVersionSet: r.deleted.map((n) => ({ launchTemplateId: r.template.id, launchTemplateName: r.template.name, versionNumber: n })),
        unsuccessfullyDeletedLaunchTemplateVersionSet: r.failed.map((f) => ({
          launchTemplateId: r.template.id, launchTemplateName: r.template.name, versionNumber: /^\d+$/.test(f.version) ? Number(f.version) : undefined,
          responseError: { code: f.code, message: f.message },
        })),
      };
    },
  },
};
