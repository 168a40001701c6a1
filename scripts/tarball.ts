import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

/** One regular file of a tar archive. */
export interface TarEntry {
  readonly path: string;
  readonly data: Buffer;
}

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString("utf8");
}

/**
 * Regular files of a .tar or .tar.gz, in archive order. Enough of ustar and GNU tar for data archives
 * (long names via the GNU 'L' record and the ustar prefix), so the scripts need no tar dependency.
 */
export function readTarball(path: string): TarEntry[] {
  let buf = readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  for (let pos = 0; pos + BLOCK <= buf.length; ) {
    const header = buf.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(field(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 0x30);
    const prefix = field(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const data = buf.subarray(pos + BLOCK, pos + BLOCK + size);
    pos += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    longName = undefined;
    if (type === "0" || type === "\0") entries.push({ path: name.replace(/^\.\//, ""), data: Buffer.from(data) });
  }
  return entries;
}
