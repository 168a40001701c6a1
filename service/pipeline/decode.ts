/**
 * Stage "decode": image bytes to the model's input tensor, exactly as the model card says.
 *
 * One sharp pipeline per image: auto-orient from EXIF, first frame only, alpha flattened onto the card's
 * colour, converted to 8-bit sRGB with 3 channels (so grayscale, CMYK and 16-bit inputs work), resized to the
 * card's size, fit, position and kernel; then one pass over the pixels normalises and lays them out NCHW.
 * The work runs on libuv's thread pool, off the event loop.
 */
import sharp, { type OutputInfo } from "sharp";
import type { ModelCard } from "../model/card";
import { PipelineError, imageEmpty, imageTooLarge, unsupportedImage } from "./errors";

/**
 * The formats accepted, recognised from their first bytes before sharp sees them: anything else (SVG, PDF, raw
 * camera files, JPEG XL...) is refused without invoking a decoder. Sniffing costs nothing next to a second
 * header parse by libvips, which measured ~30% of a 32x32 JPEG's decode.
 */
export function sniffFormat(bytes: Uint8Array): "jpeg" | "png" | "gif" | "webp" | "tiff" | "heif" | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length < 12) return undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes[0] === 0x89 && ascii(1, 4) === "PNG") return "png";
  if (ascii(0, 4) === "GIF8") return "gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return "tiff";
  if (ascii(4, 8) === "ftyp") {
    // ISO-BMFF: the major brand and the compatible brands that follow it, four bytes each.
    // Bounded: a hostile box size must not make this loop long.
    const boxSize = Math.min(bytes.length, 256, new DataView(bytes.buffer, bytes.byteOffset).getUint32(0));
    for (let at = 8; at + 4 <= boxSize; at += 4) {
      if (HEIF_BRANDS.has(ascii(at, at + 4))) return "heif";
    }
  }
  return undefined;
}

const HEIF_BRANDS = new Set(["avif", "avis", "mif1", "msf1", "heic", "heix"]);

export type ImageFormat = NonNullable<ReturnType<typeof sniffFormat>>;

/**
 * Width and height as a PNG, GIF or JPEG header declares them, read without a decoder. Decoders are lenient
 * about a declared size of zero (GIF's becomes 1x1) or call it corruption; this service calls it 422.
 */
export function declaredSize(bytes: Uint8Array, format: ImageFormat): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === "png" && bytes.length >= 24) return { width: view.getUint32(16), height: view.getUint32(20) };
  if (format === "gif" && bytes.length >= 10) return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
  if (format === "jpeg") {
    // Walk the marker segments to the first SOFn (C0-CF except C4 DHT, C8 JPG, CC DAC).
    for (let at = 2; at + 9 <= bytes.length; ) {
      if (bytes[at] !== 0xff) return undefined;
      const marker = bytes[at + 1];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
      }
      at += 2 + view.getUint16(at + 2);
    }
  }
  return undefined;
}

export interface DecoderOptions {
  readonly card: ModelCard;
  /** Largest width x height accepted; larger images are refused from their header, before decoding. */
  readonly maxImagePixels: number;
}

export type ImageDecoder = (bytes: Uint8Array) => Promise<Float32Array>;

/** Applies sharp's process-wide settings: no operation cache (every input is new), libvips threads per image. */
export function configureSharp(concurrency: number): void {
  sharp.cache(false);
  sharp.concurrency(concurrency);
}

export function createDecoder({ card, maxImagePixels }: DecoderOptions): ImageDecoder {
  const { resize, flattenOnto } = card.preprocessing;
  const pixels = resize.width * resize.height;
  const lookup = normalisationTable(card);
  const background = { r: flattenOnto[0], g: flattenOnto[1], b: flattenOnto[2] };

  return async function decode(bytes: Uint8Array): Promise<Float32Array> {
    if (bytes.byteLength === 0) throw unsupportedImage("the file is empty");
    const format = sniffFormat(bytes);
    if (format === undefined) throw unsupportedImage("unrecognised format");
    if (format === "png" || format === "gif") {
      const size = declaredSize(bytes, format);
      if (size !== undefined && (size.width === 0 || size.height === 0)) throw imageEmpty();
    }
    let decoded: { data: Buffer; info: OutputInfo };
    try {
      // limitInputPixels: libvips checks width x height from the header before decoding any pixel.
      // failOn "truncated": refuse cut-off files, tolerate harmless decoder warnings found in real photos.
      decoded = await sharp(bytes, { failOn: "truncated", limitInputPixels: maxImagePixels, sequentialRead: true })
        .autoOrient()
        .flatten({ background })
        .toColourspace("srgb")
        .resize(resize.width, resize.height, { fit: resize.fit, position: resize.position, kernel: resize.kernel })
        .removeAlpha()
        .raw({ depth: "uchar" })
        .toBuffer({ resolveWithObject: true });
    } catch (error) {
      throw await explainFailure(bytes, format, maxImagePixels, error);
    }
    const { data, info } = decoded;
    if (info.channels !== 3 || info.width !== resize.width || info.height !== resize.height || data.length !== pixels * 3) {
      throw unsupportedImage(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return toNchw(data, pixels, lookup);
  };
}

/**
 * Why sharp refused an image, from its header (read only on this error path): too many pixels or zero-sized
 * is 422 with the size in the message; anything else is 415.
 */
async function explainFailure(bytes: Uint8Array, format: ImageFormat, maxImagePixels: number, error: unknown): Promise<PipelineError> {
  const message = error instanceof Error ? error.message : String(error);
  const header = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => undefined);
  const size = header?.width !== undefined && header.height !== undefined ? { width: header.width, height: header.height } : declaredSize(bytes, format);
  if (size !== undefined) {
    if (size.width === 0 || size.height === 0) return imageEmpty();
    if (size.width * size.height > maxImagePixels) return imageTooLarge(maxImagePixels, size.width, size.height);
  }
  if (/pixel limit/i.test(message)) return imageTooLarge(maxImagePixels);
  return unsupportedImage(describeSharpError(message), error);
}

/**
 * The normalised value of every 8-bit level of every channel: (level * scale - mean[c]) / std[c]. A table turns
 * the per-pixel work into one indexed load, and computing it once keeps the arithmetic identical for every image.
 */
export function normalisationTable(card: ModelCard): Float32Array {
  const { scale, mean, std } = card.preprocessing;
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let level = 0; level < 256; level++) table[c * 256 + level] = (level * scale - mean[c]) / std[c];
  }
  return table;
}

/** Interleaved RGB bytes (HWC) to normalised planes (CHW). */
export function toNchw(rgb: Uint8Array, pixels: number, table: Float32Array): Float32Array {
  const out = new Float32Array(3 * pixels);
  for (let p = 0, i = 0; p < pixels; p++, i += 3) {
    out[p] = table[rgb[i]];
    out[pixels + p] = table[256 + rgb[i + 1]];
    out[2 * pixels + p] = table[512 + rgb[i + 2]];
  }
  return out;
}

/** sharp's message, without anything that could name a path on this machine. */
function describeSharpError(message: string): string {
  if (/unsupported image format/i.test(message)) return "unknown format";
  if (/premature end|truncated|end of (file|stream)|unexpected end/i.test(message)) return "the file is truncated";
  return "the decoder rejected it";
}
