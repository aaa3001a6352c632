/**
 * `GET /pcloud/hosts/images/<ami-id>`: an image's files as one tar (cloud/image-export.ts) for a host that joined this
 * cloud and lacks them (cloud/image-fetch.ts), its sha256 in `x-pcloud-content-sha256` (as recorded on the image).
 * Only for hosts: `Authorization: Bearer <host key>` (the key `pcloud host join` got); anything else is refused.
 */
import type { Hono } from 'hono';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Cloud } from '../../cloud/index.js';
import { CloudError } from '../../cloud/errors.js';
import { hostOfKey } from '../../cloud/hosts/tokens.js';
import { CONTENT_SHA256 } from '../../cloud/image-export.js';

const IMAGE = /^\/pcloud\/hosts\/images\/(ami-[0-9a-f]{8,17})$/;
const BEARER = /^Bearer ([!-~]{1,200})$/;

/** A refusal as JSON, its code also where the access log reads it. */
function refuse(status: 403 | 404 | 409, code: string, message: string): Response {
  return Response.json({ code, message }, { status, headers: { 'x-amzn-errortype': code } });
}

export function hostImageRoutes(app: Hono, cloud: Cloud): void {
  app.get('/pcloud/hosts/images/:id', async (c) => {
    const key = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (!key || !(await hostOfKey(cloud.db, key))) {
      return refuse(403, 'AuthFailure', 'Images are served to the hosts of this cloud only: send `Authorization: Bearer <host key>` with the key `pcloud host join` gave the host (join it again if its key is no longer good).');
    }
    const id = IMAGE.exec(c.req.path)?.[1];
    if (!id) return refuse(404, 'InvalidAMIID.Malformed', 'Ask for an image by its id: /pcloud/hosts/images/ami-…');
    let made;
    try {
      made = await cloud.imageExports.export(id);
    } catch (err) {
      if (!(err instanceof CloudError)) throw err;
      return refuse(err.code === 'InvalidAMIID.NotFound' ? 404 : 409, err.code, err.message);
    }
    // Opened before answering: a tar made again meanwhile replaces the file, not what this answer reads.
    const file = await open(made.file);
    return new Response(Readable.toWeb(file.createReadStream()) as ReadableStream, {
      headers: { 'content-type': 'application/x-tar', 'content-length': String(made.size), [CONTENT_SHA256]: made.sha256 },
    });
  });
}
