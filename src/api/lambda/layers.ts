/**
 * Lambda's layer operations by the model's names: Publish/Get/GetByArn/List/Delete of layer versions, each one call of
 * the domain (src/cloud/functions/layers.ts), answered in the model's member names.
 */
import type { LayerVersionView } from '../../cloud/functions/layers.js';
import { base64, parseBody } from './body.js';
import { pageRequest } from './params.js';
import type { Operations } from './routes.js';
import { json, timestamp } from './shapes.js';

/** A list member Lambda omits when it is empty. */
const list = (xs: string[]) => (xs.length ? xs : undefined);

/** ListLayerVersions' item, and ListLayers' LatestMatchingVersion. */
function versionShape(v: LayerVersionView) {
  return {
    LayerVersionArn: v.arn, Version: v.version, Description: v.description, CreatedDate: timestamp(v.createdAt),
    CompatibleRuntimes: list(v.compatibleRuntimes), LicenseInfo: v.licenseInfo, CompatibleArchitectures: list(v.compatibleArchitectures),
  };
}

/** Publish/GetLayerVersion's answer: the content is named, never located on the host. */
function layerShape(v: LayerVersionView) {
  return {
    Content: { Location: `pcloud:layers/${encodeURIComponent(v.name)}/${v.version}`, CodeSha256: v.codeSha256, CodeSize: v.codeSize },
    LayerArn: v.layerArn, ...versionShape(v),
  };
}

const filters = (q: URLSearchParams) => ({ runtime: q.get('CompatibleRuntime') ?? undefined, architecture: q.get('CompatibleArchitecture') ?? undefined });

export const layerOps: Operations = {
  PublishLayerVersion: async ({ cloud, accountId, p, body }) => {
    const b = parseBody('PublishLayerVersion', body);
    const v = await cloud.functions.layers.publish(accountId, p('LayerName'), base64(b.Content?.ZipFile, 'Content.ZipFile'), {
      description: b.Description, compatibleRuntimes: b.CompatibleRuntimes, compatibleArchitectures: b.CompatibleArchitectures,
      licenseInfo: b.LicenseInfo, s3: b.Content?.S3Bucket !== undefined || b.Content?.S3Key !== undefined,
    });
    return json(layerShape(v), 201);
  },
  GetLayerVersion: async ({ cloud, accountId, p }) => json(layerShape(await cloud.functions.layers.get(accountId, p('LayerName'), p('VersionNumber')))),
  GetLayerVersionByArn: async ({ cloud, accountId, q }) => json(layerShape(await cloud.functions.layers.getByArn(accountId, q.get('Arn') ?? ''))),
  ListLayers: async ({ cloud, accountId, q }) => {
    const page = await cloud.functions.layers.layersPage(accountId, filters(q), pageRequest(q));
    return json({
      Layers: page.items.map((v) => ({ LayerName: v.name, LayerArn: v.layerArn, LatestMatchingVersion: versionShape(v) })),
      NextMarker: page.nextToken,
    });
  },
  ListLayerVersions: async ({ cloud, accountId, p, q }) => {
    const page = await cloud.functions.layers.versionsPage(accountId, p('LayerName'), filters(q), pageRequest(q));
    return json({ LayerVersions: page.items.map(versionShape), NextMarker: page.nextToken });
  },
  DeleteLayerVersion: async ({ cloud, accountId, p }) => {
    await cloud.functions.layers.delete(accountId, p('LayerName'), p('VersionNumber'));
    return new Response(null, { status: 204 });
  },
};
