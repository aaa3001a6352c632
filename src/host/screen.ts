/**
 * QEMU's screendump writes PPM (P6: a text header, then RGB bytes); EC2's GetConsoleScreenshot answers a JPEG. The
 * encoding is jpeg-js's (npm).
 */
import jpeg from 'jpeg-js';

/** A binary PPM (P6, 8 bits per sample) as width, height and RGBA pixels. */
export function parsePpm(buf: Buffer): { width: number; height: number; data: Buffer } {
  // Header: magic, width, height, maxval, separated by whitespace (comments start with '#'), then one whitespace byte.
  const fields: string[] = [];
  let i = 0;
  while (fields.length < 4) {
    while (i < buf.length && /\s/.test(String.fromCharCode(buf[i]!))) i++;
    if (buf[i] === 0x23) { while (i < buf.length && buf[i] !== 0x0a) i++; continue; }
    const start = i;
    while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i]!))) i++;
    if (start === i) throw new Error('screendump: truncated PPM header');
    fields.push(buf.subarray(start, i).toString('latin1'));
  }
  const [magic, w, h, max] = fields;
  const width = Number(w), height = Number(h);
  if (magic !== 'P6' || max !== '255' || !(width > 0) || !(height > 0)) throw new Error(`screendump: not an 8-bit P6 PPM (${fields.join(' ')})`);
  const rgb = buf.subarray(i + 1);
  if (rgb.length < width * height * 3) throw new Error('screendump: truncated PPM pixels');
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0, q = 0; p < width * height * 3; p += 3, q += 4) {
    data[q] = rgb[p]!; data[q + 1] = rgb[p + 1]!; data[q + 2] = rgb[p + 2]!; data[q + 3] = 255;
  }
  return { width, height, data };
}

export function ppmToJpeg(buf: Buffer, quality = 85): Buffer {
  return jpeg.encode(parsePpm(buf), quality).data;
}
