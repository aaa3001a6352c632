/**
 * Where a joined host gets the images it lacks: the control plane's `GET /pcloud/hosts/images/<ami-id>` (api/hosts/
 * images.ts), shown this host's key. Behind a small interface, so the domain (cloud/image-fetch.ts) can be pointed at
 * any server that answers the same way.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebStream } from 'node:stream/web';

/** The header the control plane names the tar's sha256 in (what it recorded as the image's content_sha256). */
export const CONTENT_SHA256 = 'x-pcloud-content-sha256';

/** An image's tar on its way: the sha256 its sender names, and its bytes. */
export interface ImageDownload {
  sha256: string;
  body: Readable;
}

export interface ImageSource {
  /** Start receiving the image's tar; throws when the sender refuses (saying what it answered). */
  open(imageId: string): Promise<ImageDownload>;
}

/** The control plane at `controlUrl` (its API's base URL), asked with this host's key. */
export function controlPlaneImages(controlUrl: string, hostKey: string): ImageSource {
  return {
    async open(imageId) {
      const url = new URL(`/pcloud/hosts/images/${encodeURIComponent(imageId)}`, controlUrl);
      const res = await fetch(url, { headers: { authorization: `Bearer ${hostKey}` } });
      if (!res.ok || !res.body) {
        // Its words (a JSON error), shortened and printable: for the server's log.
        const text = (await res.text().catch(() => '')).slice(0, 300).replace(/[\u0000-\u001f\u007f]/g, ' ');
        throw new Error(`the control plane (${url.origin}) answered ${res.status} for the image ${imageId}: ${text}`);
      }
      return { sha256: res.headers.get(CONTENT_SHA256) ?? '', body: Readable.fromWeb(res.body as WebStream<Uint8Array>) };
    },
  };
}
