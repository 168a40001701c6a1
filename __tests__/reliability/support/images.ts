/**
 * Hostile and unusual images, made in the test (sharp, zlib) rather than committed: each is described by how it
 * is built, so a reader sees exactly what the service was sent.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import sharp, { type Sharp } from "sharp";

const CIFAR = path.resolve(__dirname, "..", "..", "fixtures", "cifar10");

export interface Fixture {
  readonly label: string;
  readonly file: string;
  readonly bytes: Buffer;
}

/** The committed CIFAR-10 fixture JPEGs (10 per class). */
export function fixtureJpegs(): Fixture[] {
  return readdirSync(CIFAR).flatMap((label) =>
    readdirSync(path.join(CIFAR, label))
      .filter((file) => file.endsWith(".jpg"))
      .map((file) => ({ label, file: `${label}/${file}`, bytes: readFileSync(path.join(CIFAR, label, file)) })),
  );
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/** A PNG written chunk by chunk: IHDR with any declared size, then the given (compressed) IDAT payload. */
export function handmadePng(width: number, height: number, bitDepth: number, colourType: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", Buffer.alloc(0))]);
}

/** 74 bytes declaring 50,000 x 50,000 RGB pixels (7.5 GB decoded), with a token IDAT: a decompression bomb. */
export function decompressionBomb(): Buffer {
  return handmadePng(50_000, 50_000, 8, 2, zlib.deflateSync(Buffer.alloc(1024)));
}

/**
 * A complete, valid 1-bit grayscale PNG of width x height: every row is present, so only the pixel count (not
 * the file size: ~12 KB for 10,000 x 10,000) can refuse it.
 */
export function hugeValidPng(width: number, height: number): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8);
  return handmadePng(width, height, 1, 0, zlib.deflateSync(Buffer.alloc(rowBytes * height), { level: 9 }));
}

/** Byte offset and length of the first chunk of `type` in a PNG. */
export function findChunk(png: Buffer, type: string): { offset: number; length: number } {
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString("latin1", at + 4, at + 8) === type) return { offset: at, length };
    at += 12 + length;
  }
  throw new Error(`no ${type} chunk`);
}

/** The PNG with one chunk's CRC inverted; the chunk's data is intact. */
export function withBadCrc(png: Buffer, type: string): Buffer {
  const { offset, length } = findChunk(png, type);
  const copy = Buffer.from(png);
  const crcAt = offset + 8 + length;
  copy.writeUInt32BE(~copy.readUInt32BE(crcAt) >>> 0, crcAt);
  return copy;
}

/** The PNG with its compressed pixel data scrambled (and so its CRC wrong): the data itself is damaged. */
export function withDamagedIdat(png: Buffer): Buffer {
  const { offset, length } = findChunk(png, "IDAT");
  const copy = Buffer.from(png);
  for (let i = offset + 8 + 2; i < offset + 8 + length - 4; i += 3) copy[i] ^= 0x5a;
  return copy;
}

/** A textured RGB test picture (not flat, so resizing and colour conversion have work to do). */
export function testPicture(width: number, height: number): Sharp {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / Math.max(1, width - 1);
      data[i + 1] = (y * 255) / Math.max(1, height - 1);
      data[i + 2] = ((x ^ y) & 0x1f) * 8;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

/** An animated GIF of `frames` frames, each a different flat colour, frame 0 being the textured picture. */
export async function animatedGif(size: number, frames: number): Promise<{ gif: Buffer; firstFrame: Buffer }> {
  const first = await testPicture(size, size).raw().toBuffer();
  const strip = Buffer.alloc(size * size * 3 * frames);
  first.copy(strip, 0);
  for (let f = 1; f < frames; f++) strip.fill(f * 40, f * size * size * 3, (f + 1) * size * size * 3);
  const gif = await sharp(strip, { raw: { width: size, height: size * frames, channels: 3, pageHeight: size } })
    .gif({ loop: 0, delay: Array(frames).fill(100) })
    .toBuffer();
  const firstFrame = await sharp(gif, { pages: 1 }).png().toBuffer();
  return { gif, firstFrame };
}

/**
 * An SVG that, if rasterised, would fetch `externalUrl` twice (an <image> and a CSS import) and expand an
 * entity: what a careless SVG renderer would act on.
 */
export function hostileSvg(externalUrl: string): Buffer {
  return Buffer.from(
    `<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY probe SYSTEM "${externalUrl}/entity">]>\n` +
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">` +
      `<style>@import url("${externalUrl}/css");</style>` +
      `<image xlink:href="${externalUrl}/image.png" width="64" height="64"/><text>&probe;</text></svg>`,
  );
}
