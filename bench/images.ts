/**
 * The images every system is loaded with: real CIFAR-10 test JPEGs, and larger photo-like JPEGs made from them,
 * which the servers must decode and resize down to 32x32 on every request.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import sharp from "sharp";
import { readTarball } from "../scripts/tarball";

export interface BenchImage {
  readonly name: string;
  readonly data: Buffer;
}

export interface ImageSet {
  /** Short id used in tables and JSON: "cifar", "640x480", ... */
  readonly id: string;
  readonly description: string;
  readonly images: readonly BenchImage[];
}

/**
 * Up to `count` CIFAR-10 test JPEGs spread evenly over the classes: from the data archive when it is present,
 * else from the committed fixtures (10 per class).
 */
export function loadCifarJpegs(archive: string, fixturesDir: string, count: number): { images: BenchImage[]; source: string } {
  const byClass = new Map<string, BenchImage[]>();
  let source: string;
  if (existsSync(archive)) {
    source = archive;
    for (const entry of readTarball(archive)) {
      if (!entry.path.toLowerCase().endsWith(".jpg")) continue;
      const parts = entry.path.split("/");
      const label = parts[parts.length - 2];
      const list = byClass.get(label) ?? [];
      list.push({ name: `${label}/${basename(entry.path)}`, data: entry.data });
      byClass.set(label, list);
    }
  } else {
    source = fixturesDir;
    for (const label of readdirSync(fixturesDir).sort()) {
      const dir = join(fixturesDir, label);
      const files = readdirSync(dir).filter((f) => f.toLowerCase().endsWith(".jpg")).sort();
      byClass.set(label, files.map((f) => ({ name: `${label}/${f}`, data: readFileSync(join(dir, f)) })));
    }
  }
  if (byClass.size === 0) throw new Error(`no CIFAR-10 JPEGs in ${source}`);
  // Round-robin over classes so any prefix of the list is balanced.
  const labels = [...byClass.keys()].sort();
  for (const label of labels) byClass.get(label)!.sort((a, b) => a.name.localeCompare(b.name));
  const images: BenchImage[] = [];
  for (let i = 0; images.length < count; i++) {
    let added = false;
    for (const label of labels) {
      const item = byClass.get(label)![i];
      if (item && images.length < count) {
        images.push(item);
        added = true;
      }
    }
    if (!added) break;
  }
  return { images, source };
}

/** Deterministic PRNG (mulberry32), so the generated photos are byte-identical on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A photo-sized JPEG made from a small image: upscaled with Lanczos, then given sensor-like grain (a little
 * per-pixel noise plus soft blotches), so the encoder produces what a camera photo of that size weighs
 * (tens to hundreds of KB) instead of a suspiciously compressible smooth gradient.
 */
export async function photoFrom(source: Buffer, width: number, height: number, seed: number): Promise<Buffer> {
  const { data, info } = await sharp(source)
    .resize(width, height, { fit: "cover", kernel: "lanczos3" })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const random = prng(seed);
  // Low-frequency brightness variation: a coarse random grid, bilinearly interpolated.
  const cells = 12;
  const grid = Array.from({ length: (cells + 1) * (cells + 1) }, () => (random() - 0.5) * 40);
  const channels = info.channels;
  for (let y = 0; y < height; y++) {
    const gy = (y / height) * cells;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    for (let x = 0; x < width; x++) {
      const gx = (x / width) * cells;
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      const g = (i: number, j: number): number => grid[(y0 + j) * (cells + 1) + (x0 + i)];
      const soft = (g(0, 0) * (1 - fx) + g(1, 0) * fx) * (1 - fy) + (g(0, 1) * (1 - fx) + g(1, 1) * fx) * fy;
      const base = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) {
        const grain = (random() + random() + random() - 1.5) * 14;
        const v = data[base + c] + soft + grain;
        data[base + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return sharp(data, { raw: { width, height, channels } }).jpeg({ quality: 85, mozjpeg: false }).toBuffer();
}

/** `count` photos of width x height made from the first CIFAR images. */
export async function photoSet(sources: readonly BenchImage[], width: number, height: number, count: number): Promise<ImageSet> {
  const images: BenchImage[] = [];
  for (let i = 0; i < count; i++) {
    const src = sources[i % sources.length];
    const data = await photoFrom(src.data, width, height, 1000 + i);
    images.push({ name: `${src.name.replace(/\.jpg$/i, "")}@${width}x${height}.jpg`, data });
  }
  const meanKiB = images.reduce((s, im) => s + im.data.length, 0) / images.length / 1024;
  return {
    id: `${width}x${height}`,
    description: `${count} photo-like ${width}x${height} JPEGs (q85, mean ${meanKiB.toFixed(0)} KiB) made from CIFAR-10 images`,
    images,
  };
}

export function meanBytes(set: ImageSet): number {
  return set.images.reduce((s, im) => s + im.data.length, 0) / set.images.length;
}
