/**
 * The sharp pipeline against the training recipe's own preprocessing (golden inputs.f32, PIL decode), and its
 * handling of inputs CIFAR-10 never has: orientation, alpha, grayscale, CMYK, 16-bit, animation, odd sizes.
 */
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { loadModelCard, type ModelCard } from "../../service/model/card";
import { configureSharp, createDecoder, declaredSize, sniffFormat, type ImageDecoder } from "../../service/pipeline/decode";
import { PipelineError } from "../../service/pipeline/errors";
import { CARD_PATH, loadGolden, type Golden } from "./helpers";

let card: ModelCard;
let golden: Golden;
let decode: ImageDecoder;
let pixels: number;

beforeAll(async () => {
  configureSharp(1);
  card = await loadModelCard(CARD_PATH);
  golden = loadGolden();
  decode = createDecoder({ card, maxImagePixels: 1_000_000 });
  pixels = card.preprocessing.resize.width * card.preprocessing.resize.height;
});

/** The 8-bit level a normalised value came from. */
function level(value: number, channel: number): number {
  const { mean, std, scale } = card.preprocessing;
  return Math.round((value * std[channel] + mean[channel]) / scale);
}

/** The mean 8-bit level of each channel of a decoded tensor. */
function meanLevels(tensor: Float32Array): number[] {
  return [0, 1, 2].map((c) => {
    let sum = 0;
    for (let p = 0; p < pixels; p++) sum += level(tensor[c * pixels + p], c);
    return sum / pixels;
  });
}

async function rejection(bytes: Uint8Array): Promise<PipelineError> {
  const error = await decode(bytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PipelineError)) throw new Error(`expected a PipelineError, got ${String(error)}`);
  return error;
}

describe("preprocessing parity with the training recipe", () => {
  it("reproduces the recipe's tensor for every fixture JPEG", async () => {
    let maxAbsDiff = 0;
    let levelMismatches = 0;
    const size = 3 * pixels;
    for (const [i, image] of golden.images.entries()) {
      const tensor = await decode(image.bytes);
      expect(tensor).toHaveLength(size);
      const expected = golden.inputs.subarray(i * size, (i + 1) * size);
      for (let j = 0; j < size; j++) {
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(tensor[j] - expected[j]));
        const channel = Math.floor(j / pixels);
        if (level(tensor[j], channel) !== level(expected[j], channel)) levelMismatches++;
      }
    }
    // libvips and PIL both decode with libjpeg(-turbo), so every 8-bit level is identical; what remains is the
    // rounding of (x/255 - mean)/std in float64 here and float32 in PyTorch: a few float32 ulps at |x| <= 2.2
    // (ulp 2.4e-7). Measured: 2.4e-7, one ulp.
    expect(levelMismatches).toBe(0);
    expect(maxAbsDiff).toBeLessThan(1e-6);
  });
});

describe("decoding beyond CIFAR-10", () => {
  const { width: W, height: H } = { width: 32, height: 32 };

  it("applies EXIF orientation", async () => {
    // Left half red, right half blue; orientation 3 means "rotate 180°" on display.
    const raw = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) raw.set(x < W / 2 ? [255, 0, 0] : [0, 0, 255], (y * W + x) * 3);
    }
    const jpeg = await sharp(raw, { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 3 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(3);
    const tensor = await decode(jpeg);
    const red = (x: number) => level(tensor[0 * pixels + 16 * W + x], 0);
    const blue = (x: number) => level(tensor[2 * pixels + 16 * W + x], 2);
    expect(red(2)).toBeLessThan(30);
    expect(blue(2)).toBeGreaterThan(220);
    expect(red(W - 3)).toBeGreaterThan(220);
    expect(blue(W - 3)).toBeLessThan(30);
  });

  it("flattens transparency onto the card's colour", async () => {
    const png = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    expect(meanLevels(await decode(png))).toEqual([...card.preprocessing.flattenOnto]);
  });

  it("turns grayscale into three equal channels", async () => {
    const gray = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 100, g: 100, b: 100 } } })
      .toColourspace("b-w")
      .jpeg()
      .toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const [r, g, b] = meanLevels(await decode(gray));
    expect(r).toBeCloseTo(100, 0);
    expect(g).toBe(r);
    expect(b).toBe(r);
  });

  it("converts CMYK to sRGB", async () => {
    const cmyk = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 200, g: 40, b: 40 } } })
      .toColourspace("cmyk")
      .jpeg()
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe("cmyk");
    const [r, g, b] = meanLevels(await decode(cmyk));
    // Through a CMYK profile and back, colours shift a little; the hue must survive.
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(100);
    expect(b).toBeLessThan(100);
  });

  it("reads 16-bit PNGs like their 8-bit originals", async () => {
    const original = golden.images[0].bytes;
    const png16 = await sharp(original).toColourspace("rgb16").png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe("ushort");
    const a = await decode(original);
    const b = await decode(png16);
    let maxLevelDiff = 0;
    for (let j = 0; j < a.length; j++) {
      const c = Math.floor(j / pixels);
      maxLevelDiff = Math.max(maxLevelDiff, Math.abs(level(a[j], c) - level(b[j], c)));
    }
    expect(maxLevelDiff).toBeLessThanOrEqual(1);
  });

  it("takes the first frame of an animated GIF", async () => {
    const frame = (r: number, g: number, b: number) =>
      sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toBuffer();
    const gif = await sharp([await frame(0, 0, 255), await frame(255, 0, 0)], { join: { animated: true } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const [r, , b] = meanLevels(await decode(gif));
    expect(b).toBeGreaterThan(200);
    expect(r).toBeLessThan(50);
  });

  it("resizes any size to the card's input: 1x1, wide, and large", async () => {
    for (const [width, height] of [
      [1, 1],
      [300, 20],
      [640, 480],
    ]) {
      const png = await sharp({ create: { width, height, channels: 3, background: { r: 10, g: 200, b: 30 } } })
        .png()
        .toBuffer();
      const tensor = await decode(png);
      expect(tensor).toHaveLength(3 * pixels);
      expect(meanLevels(tensor).map(Math.round)).toEqual([10, 200, 30]);
    }
  });

  it("refuses what is not an image, a truncated file, an SVG and an empty file as unsupported (415)", async () => {
    const truncated = golden.images[0].bytes.subarray(0, Math.floor(golden.images[0].bytes.length / 2));
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    for (const bytes of [Buffer.from("definitely not an image"), truncated, svg, Buffer.alloc(0)]) {
      const error = await rejection(bytes);
      expect(error.kind).toBe("unsupported_media");
      expect(error.code).toBe("unsupported_image");
    }
  });

  it("refuses images over the pixel limit from their header, before decoding (422)", async () => {
    // 2000 x 2000 = 4 Mpx against a 1 Mpx limit; a flat PNG of this size is a few kB.
    const png = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: "#000" } }).png().toBuffer();
    const error = await rejection(png);
    expect(error.kind).toBe("unprocessable");
    expect(error.code).toBe("image_too_large");
    expect(error.message).toContain("2000x2000");
  });

  it("refuses a decompression bomb: a tiny PNG declaring 50,000 x 50,000 pixels (422)", async () => {
    const bomb = pngBomb(50_000, 50_000);
    expect(bomb.length).toBeLessThan(2048);
    const error = await rejection(bomb);
    expect(error.kind).toBe("unprocessable");
    expect(error.message).toContain("50000x50000");
  });
});

describe("format sniffing and declared sizes", () => {
  it("recognises every accepted format from its first bytes, and nothing else", async () => {
    const source = sharp(golden.images[0].bytes);
    const expected = { jpeg: "jpeg", png: "png", webp: "webp", gif: "gif", tiff: "tiff", avif: "heif" } as const;
    for (const [format, sniffed] of Object.entries(expected)) {
      const bytes = await source.clone().toFormat(format as keyof typeof expected).toBuffer();
      expect([format, sniffFormat(bytes)]).toEqual([format, sniffed]);
      const size = declaredSize(bytes, sniffed);
      if (size !== undefined) expect([format, size]).toEqual([format, { width: 32, height: 32 }]);
    }
    for (const other of ["<svg xmlns='http://www.w3.org/2000/svg'/>", "%PDF-1.7 ...........", "just some text here"]) {
      expect(sniffFormat(Buffer.from(other))).toBeUndefined();
    }
  });

  it("refuses images that declare zero width or height (422)", async () => {
    const png = Buffer.from(await sharp({ create: { width: 4, height: 4, channels: 3, background: "#fff" } }).png().toBuffer());
    png.writeUInt32BE(0, 16); // IHDR width
    const gif = Buffer.from(await sharp({ create: { width: 4, height: 4, channels: 3, background: "#fff" } }).gif().toBuffer());
    gif.writeUInt16LE(0, 8); // logical screen height
    for (const bytes of [png, gif]) {
      const error = await rejection(bytes);
      expect([error.kind, error.code]).toEqual(["unprocessable", "image_empty"]);
    }
  });
});

/** A PNG whose header declares width x height and whose IDAT holds 1 MiB of zeros, deflated to ~1 kB. */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(Buffer.alloc(1 << 20))),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typeBytes = Buffer.from(type, "ascii");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([typeBytes, data])));
  return Buffer.concat([length, typeBytes, data, crc]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
