/**
 * No source file under service/, infra/ or charts/ grows past 400 lines: a module that long is doing more than one
 * job, and should be split before it becomes the place every change has to touch.
 */
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const MAX_LINES = 400;

function sourceFiles(folder: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => path.join(folder, file));
}

test.each(["service", "infra", "charts"])(`%s/ has no source file over ${MAX_LINES} lines`, (folder) => {
  const files = sourceFiles(folder);
  expect(files.length).toBeGreaterThan(3);
  const tooLong = files
    .map((file) => ({ file, lines: fs.readFileSync(path.join(ROOT, file), "utf8").split("\n").length }))
    .filter(({ lines }) => lines > MAX_LINES);
  expect(tooLong).toEqual([]);
});
