import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { parsePpm, ppmToJpeg } from '../../src/host/screen.js';

/** A P6 PPM as QEMU's screendump writes it. */
function ppm(width: number, height: number, pixel: (x: number, y: number) => [number, number, number], header = `P6\n${width} ${height}\n255\n`): Buffer {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(pixel(x, y), (y * width + x) * 3);
  return Buffer.concat([Buffer.from(header, 'latin1'), rgb]);
}

describe('screendump to JPEG', () => {
  it('reads a P6 PPM (comments in the header too) into RGBA', () => {
    const img = parsePpm(ppm(3, 2, (x, y) => [x * 100, y * 200, 7], 'P6\n# CREATOR: QEMU\n3 2\n255\n'));
    expect([img.width, img.height]).toEqual([3, 2]);
    expect([...img.data.subarray(0, 8)]).toEqual([0, 0, 7, 255, 100, 0, 7, 255]);
    expect([...img.data.subarray(20, 24)]).toEqual([200, 200, 7, 255]);
  });

  it('encodes a JPEG of the same size and colours', () => {
    const out = ppmToJpeg(ppm(64, 48, (x) => (x < 32 ? [255, 0, 0] : [0, 0, 255])));
    expect([...out.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const back = jpeg.decode(out);
    expect([back.width, back.height]).toEqual([64, 48]);
    const at = (x: number, y: number) => [...back.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 3)];
    expect(at(5, 5)[0]).toBeGreaterThan(200);
    expect(at(60, 5)[2]).toBeGreaterThan(200);
  });

  it('refuses what is not an 8-bit P6 PPM, or is cut short', () => {
    expect(() => parsePpm(Buffer.from('P3\n1 1\n255\n0 0 0\n'))).toThrow(/not an 8-bit P6/);
    expect(() => parsePpm(ppm(4, 4, () => [0, 0, 0]).subarray(0, 20))).toThrow(/truncated/);
  });
});
