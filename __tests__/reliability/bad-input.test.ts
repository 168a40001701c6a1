/**
 * Every bad input of issue 6, each with the status and error code it must get, against the real model behind
 * the production HTTP server on a loopback port. Cases that need a real socket (oversized streams, slow
 * clients, malformed HTTP) drive one by hand and check that the server closes it rather than leaving it hanging.
 */
import net from "node:net";
import sharp from "sharp";
import {
  animatedGif,
  decompressionBomb,
  hostileSvg,
  hugeValidPng,
  testPicture,
  withBadCrc,
  withDamagedIdat,
} from "./support/images";
import {
  isErrorEnvelope,
  leakScan,
  multipart,
  outcome,
  rawExchange,
  send,
  sleep,
  upload,
  writeChunk,
  type Part,
  type RawResult,
  type Reply,
} from "./support/http";
import { itemShape, itemSize } from "../../service/model/card";
import { MiB, startInProcess, useRealService, type InProcessService } from "./support/service";
import { CaseTable } from "./support/table";

jest.setTimeout(60_000);

const table = new CaseTable("bad input");
table.printAfterAll();

const real = useRealService();

const file = (data: Buffer | string, filename = "image.jpg", contentType = "image/jpeg"): Part => ({
  name: "file",
  data,
  filename,
  contentType,
});

/** Checks the contract's error shape and request id on every error answer, then records the case. */
function checkError(name: string, expected: string, reply: Reply): void {
  table.check(name, expected, outcome(reply));
  expect(isErrorEnvelope(reply.json)).toBe(true);
  expect(reply.headers["content-type"]).toMatch(/^application\/json/);
  expect(reply.headers["x-request-id"]).toEqual(expect.any(String));
}

/** A 200 prediction with the full response shape. */
function checkPrediction(name: string, reply: Reply, topK = 5): { label: string; index: number; confidence: number } {
  table.check(name, "200", outcome(reply));
  const body = reply.json as { prediction: { label: string; index: number; confidence: number }; top_k: unknown[] };
  expect(real.card.labels).toContain(body.prediction.label);
  expect(body.prediction.confidence).toBeGreaterThan(0);
  expect(body.prediction.confidence).toBeLessThanOrEqual(1);
  expect(body.top_k).toHaveLength(topK);
  return body.prediction;
}

const predict = (parts: readonly Part[], query = "") => upload(real.service.port, `/predict${query}`, parts);

describe("malformed requests (400)", () => {
  it("empty body, no content type", async () => {
    checkError("empty body", "400 expected_multipart", await send(real.service.port, { method: "POST", path: "/predict", headers: { "Content-Length": 0 } }));
  });

  it("empty multipart body", async () => {
    const reply = await send(real.service.port, {
      method: "POST",
      path: "/predict",
      headers: { "Content-Type": "multipart/form-data; boundary=x", "Content-Length": 0 },
    });
    checkError("empty multipart body", "400 malformed_multipart", reply);
  });

  it("wrong content type: JSON, and the raw image bytes", async () => {
    const json = JSON.stringify({ file: real.cat.bytes.toString("base64") });
    checkError(
      "wrong content type (application/json)",
      "400 expected_multipart",
      await send(real.service.port, { method: "POST", path: "/predict", body: json, headers: { "Content-Type": "application/json" } }),
    );
    checkError(
      "wrong content type (image/jpeg body)",
      "400 expected_multipart",
      await send(real.service.port, { method: "POST", path: "/predict", body: real.cat.bytes, headers: { "Content-Type": "image/jpeg" } }),
    );
  });

  it("multipart without a boundary parameter", async () => {
    const { body } = multipart([file(real.cat.bytes)]);
    checkError(
      "multipart without boundary",
      "400 malformed_multipart",
      await send(real.service.port, { method: "POST", path: "/predict", body, headers: { "Content-Type": "multipart/form-data" } }),
    );
  });

  it("multipart without `file`", async () => {
    checkError("multipart without file", "400 missing_file", await predict([{ name: "note", data: "no image here" }]));
  });

  it("the image in another field", async () => {
    checkError("file in field `image`", "400 unexpected_file", await predict([{ ...file(real.cat.bytes), name: "image" }]));
  });

  it("two files on /predict", async () => {
    checkError("two files on /predict", "400 unexpected_file", await predict([file(real.cat.bytes, "a.jpg"), file(real.cat.bytes, "b.jpg")]));
  });

  it("more files than the batch maximum", async () => {
    const parts = Array.from({ length: real.service.config.maxBatchFiles + 1 }, (_, i) => ({ ...file(real.cat.bytes, `${i}.jpg`), name: "files" }));
    checkError(`${parts.length} files on /predict/batch (max ${real.service.config.maxBatchFiles})`, "400 unexpected_file", await upload(real.service.port, "/predict/batch", parts));
  });

  it("a multipart body cut off before its closing boundary", async () => {
    const boundary = "cut";
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n${"x".repeat(100)}`;
    checkError(
      "multipart cut before closing boundary",
      "400 malformed_multipart",
      await send(real.service.port, {
        method: "POST",
        path: "/predict",
        body,
        headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
      }),
    );
  });
});

describe("top_k", () => {
  it.each([
    ["0", "400 invalid_top_k"],
    ["11", "400 invalid_top_k"],
    ["-1", "400 invalid_top_k"],
    ["abc", "400 invalid_top_k"],
    ["2.5", "400 invalid_top_k"],
    ["1e1", "400 invalid_top_k"],
    ["%203", "400 invalid_top_k"],
    ["99999999999999999999", "400 invalid_top_k"],
    ["1&top_k=2", "400 invalid_top_k"],
  ])("top_k=%s", async (value, expected) => {
    checkError(`top_k=${value}`, expected, await predict([file(real.cat.bytes)], `?top_k=${value}`));
  });

  it.each([1, 10])("top_k=%i returns that many classes", async (k) => {
    checkPrediction(`top_k=${k}`, await predict([file(real.cat.bytes)], `?top_k=${k}`), k);
  });
});

describe("not an image (415)", () => {
  it("non-image bytes named .jpg", async () => {
    const text = Buffer.from("This is a text file pretending to be a photo.\n".repeat(20));
    checkError("non-image bytes named .jpg", "415 unsupported_image", await predict([file(text, "photo.jpg")]));
  });

  it("a JPEG cut at 60%", async () => {
    const truncated = real.cat.bytes.subarray(0, Math.floor(real.cat.bytes.length * 0.6));
    checkError("truncated JPEG (60%)", "415 unsupported_image", await predict([file(truncated)]));
  });

  it("a JPEG cut right after its header", async () => {
    const sos = real.cat.bytes.indexOf(Buffer.from([0xff, 0xda]));
    checkError("JPEG with header only", "415 unsupported_image", await predict([file(real.cat.bytes.subarray(0, sos + 2))]));
  });

  it("a PNG whose compressed pixels are damaged (bad CRC and bad data)", async () => {
    const png = await testPicture(64, 64).png().toBuffer();
    checkError("PNG with damaged IDAT", "415 unsupported_image", await predict([file(withDamagedIdat(png), "x.png", "image/png")]));
  });

  it("SVG is refused without fetching anything it references", async () => {
    const fetched: string[] = [];
    const listener = net.createServer((socket) => {
      fetched.push("connection");
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as net.AddressInfo;
    try {
      const svg = hostileSvg(`http://127.0.0.1:${port}`);
      checkError("SVG with external refs", "415 unsupported_image", await predict([file(svg, "x.svg", "image/svg+xml")]));
      await sleep(200);
      table.check("SVG: connections to its external URLs", "0", String(fetched.length));
    } finally {
      listener.close();
    }
  });
});

describe("images refused for their size (422)", () => {
  it("a decompression bomb: 74 bytes declaring 50,000 x 50,000 pixels", async () => {
    const bomb = decompressionBomb();
    expect(bomb.length).toBeLessThan(100);
    const before = process.memoryUsage().rss;
    const reply = await predict([file(bomb, "bomb.png", "image/png")]);
    checkError("decompression bomb 50000x50000 (74 B)", "422 image_too_large", reply);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * MiB);
    expect(reply.ms).toBeLessThan(5_000);
  });

  it("huge dimensions under the byte limit: a complete 10,000 x 10,000 PNG of 12 KB", async () => {
    const huge = hugeValidPng(10_000, 10_000);
    expect(huge.length).toBeLessThan(real.service.config.maxRequestSize);
    checkError(`valid 10000x10000 PNG (${Math.round(huge.length / 1024)} KiB)`, "422 image_too_large", await predict([file(huge, "huge.png", "image/png")]));
  });

  it("a zero-height GIF", async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#000" } }).gif().toBuffer();
    const zero = Buffer.from(gif);
    zero.writeUInt16LE(0, 8);
    checkError("GIF declaring 4x0", "422 image_empty", await predict([file(zero, "zero.gif", "image/gif")]));
  });

  it("just under the pixel limit still works, in bounded time: a 7,000 x 7,000 PNG", async () => {
    const big = hugeValidPng(7_000, 7_000);
    const reply = await predict([file(big, "big.png", "image/png")]);
    checkPrediction("valid 7000x7000 PNG (49 Mpx, under limit)", reply);
    expect(reply.ms).toBeLessThan(10_000);
  });
});

describe("unusual but valid images (200)", () => {
  it("an animated GIF is classified by its first frame", async () => {
    const { gif, firstFrame } = await animatedGif(48, 4);
    const animated = checkPrediction("animated GIF (4 frames)", await predict([file(gif, "anim.gif", "image/gif")]));
    const still = (await predict([file(firstFrame, "first.png", "image/png")])).json as { prediction: { index: number; confidence: number } };
    table.check("animated GIF = its first frame", "same class", animated.index === still.prediction.index ? "same class" : `${animated.index} vs ${still.prediction.index}`);
    expect(animated.confidence).toBeCloseTo(still.prediction.confidence, 4);
  });

  it("16-bit PNG, CMYK JPEG, grayscale JPEG and PNG, transparent PNG, 1x1", async () => {
    const picture = () => testPicture(64, 64);
    const alphaRamp = Buffer.from(Array.from({ length: 64 * 64 }, (_, i) => i % 256));
    const cases: [string, Buffer, string][] = [
      ["16-bit PNG", await picture().toColourspace("rgb16").png().toBuffer(), "image/png"],
      ["CMYK JPEG", await picture().toColourspace("cmyk").jpeg().toBuffer(), "image/jpeg"],
      ["grayscale JPEG", await picture().greyscale().jpeg().toBuffer(), "image/jpeg"],
      ["grayscale 16-bit PNG", await picture().toColourspace("grey16").png().toBuffer(), "image/png"],
      ["transparent PNG (alpha 0..255)", await picture().joinChannel(alphaRamp, { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer(), "image/png"],
      ["fully transparent PNG", await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer(), "image/png"],
      ["1x1 PNG", await sharp({ create: { width: 1, height: 1, channels: 3, background: "#3366cc" } }).png().toBuffer(), "image/png"],
      ["1x1 JPEG", await sharp({ create: { width: 1, height: 1, channels: 3, background: "#3366cc" } }).jpeg().toBuffer(), "image/jpeg"],
    ];
    for (const [name, bytes, type] of cases) {
      const info = await sharp(bytes).metadata();
      if (name.includes("16-bit")) expect(info.depth).toBe("ushort");
      if (name.startsWith("CMYK")) expect(info.space).toBe("cmyk");
      checkPrediction(name, await predict([file(bytes, `x.${type.split("/")[1]}`, type)]));
    }
  });

  it("a PNG with a bad CRC but intact data decodes (CRCs are not checked, pixels are)", async () => {
    const png = await testPicture(64, 64).png().toBuffer();
    const reference = (await predict([file(png, "ok.png", "image/png")])).json as { prediction: { index: number } };
    for (const chunk of ["IHDR", "IDAT"]) {
      const reply = await predict([file(withBadCrc(png, chunk), "crc.png", "image/png")]);
      const got = checkPrediction(`PNG with bad ${chunk} CRC, data intact`, reply);
      expect(got.index).toBe(reference.prediction.index);
    }
  });
});

describe("filenames", () => {
  // [case, part, the filename /predict/batch echoes]: multipart parsing keeps only a path's last component.
  const names: [string, Part, string][] = [
    ["1,000-char filename", { name: "files", data: Buffer.alloc(0), filename: `${"a".repeat(996)}.jpg` }, `${"a".repeat(996)}.jpg`],
    ["non-ASCII filename (raw UTF-8)", { name: "files", data: Buffer.alloc(0), filename: "кошка 猫 🐱.jpg" }, "кошка 猫 🐱.jpg"],
    ["non-ASCII filename (RFC 5987)", { name: "files", data: Buffer.alloc(0), filenameStar: "gâteau\u2028 «chat».jpg" }, "gâteau\u2028 «chat».jpg"],
    ["filename with a path and a quote", { name: "files", data: Buffer.alloc(0), filename: "..\\..\\etc\\passwd'.jpg" }, "passwd'.jpg"],
  ];

  it.each(names)("%s is accepted and echoed", async (name, part, echoed) => {
    const reply = await upload(real.service.port, "/predict/batch", [{ ...part, data: real.cat.bytes, contentType: "image/jpeg" }]);
    table.check(name, "200", outcome(reply));
    const results = (reply.json as { results: { filename: string; prediction?: unknown }[] }).results;
    expect(results).toHaveLength(1);
    expect(results[0].filename).toBe(echoed);
    expect(results[0].prediction).toBeDefined();
    checkPrediction(`${name} on /predict`, await predict([{ ...part, name: "file", data: real.cat.bytes }]));
  });

  it("a 100,000-char filename is refused as malformed, not crashed on", async () => {
    const reply = await predict([file(real.cat.bytes, `${"b".repeat(100_000)}.jpg`)]);
    checkError("100,000-char filename", "400 malformed_multipart", reply);
  });
});

describe("batch with one hostile image among good ones", () => {
  it("answers 200 with a per-file error for the bomb only", async () => {
    const reply = await upload(real.service.port, "/predict/batch", [
      { name: "files", data: real.cat.bytes, filename: "good-1.jpg", contentType: "image/jpeg" },
      { name: "files", data: decompressionBomb(), filename: "bomb.png", contentType: "image/png" },
      { name: "files", data: Buffer.from("not an image"), filename: "text.jpg", contentType: "image/jpeg" },
      { name: "files", data: real.cat.bytes, filename: "good-2.jpg", contentType: "image/jpeg" },
    ]);
    const results = (reply.json as { results: { filename: string; error?: { code: string }; prediction?: unknown }[] }).results;
    const summary = results.map((r) => r.error?.code ?? "ok").join(",");
    table.check("batch: good, bomb, text, good", "200 ok,image_too_large,unsupported_image,ok", `${reply.status} ${summary}`);
    expect(results.map((r) => r.filename)).toEqual(["good-1.jpg", "bomb.png", "text.jpg", "good-2.jpg"]);
  });
});

describe("bodies over the byte limit (413), over a real socket", () => {
  const headers = (extra: string) =>
    `POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=big\r\n${extra}\r\n`;
  const partHead = '--big\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n';

  function check413(name: string, result: RawResult, limit: number): void {
    table.check(name, "413 payload_too_large, closed", `${result.status ?? "no answer"} ${(result.json as { error?: { code?: string } })?.error?.code ?? ""}, ${result.closedByServer ? "closed" : "left open"}`);
    expect(result.headers["connection"]).toBe("close");
    expect(result.headers["x-request-id"]).toEqual(expect.any(String));
    // Read no more than the limit plus what socket buffers hold.
    expect(result.bytesWritten).toBeLessThan(limit + 16 * MiB);
  }

  it("declared by Content-Length: refused before the body is read", async () => {
    const limit = real.service.config.maxRequestSize;
    const result = await rawExchange(real.service.port, {
      timeoutMs: 10_000,
      drive: (socket) => {
        // Declares 64 MiB and sends 1 KiB of it, then waits: the answer must not wait for the rest.
        socket.write(headers(`Content-Length: ${64 * MiB}\r\n`) + partHead + "x".repeat(1024));
      },
    });
    check413("Content-Length 64 MiB (limit 10 MiB), 1 KiB sent", result, limit);
    expect(result.firstByteMs).toBeLessThan(5_000);
  });

  it("chunked: refused while streaming, the rest never read", async () => {
    const limit = real.service.config.maxRequestSize;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    const result = await rawExchange(real.service.port, {
      timeoutMs: 20_000,
      drive: async (socket, closed) => {
        const head = Buffer.from(partHead);
        await writeChunk(socket, headers("Transfer-Encoding: chunked\r\n") + `${head.length.toString(16)}\r\n${partHead}\r\n`);
        // Offers 256 MiB; stops, like curl, once an answer arrives.
        for (let sent = 0; sent < 256 * MiB && !closed() && socket.bytesRead === 0; sent += chunk.length) {
          await writeChunk(socket, frame);
        }
      },
    });
    check413("chunked 256 MiB offered (limit 10 MiB)", result, limit);
    // Closed once the client went quiet: a bounded linger, not the 30 s request timeout.
    expect(result.ms).toBeLessThan(5_000);
  });

  it("chunked, from a client that never stops sending: still answered, then cut off", async () => {
    const limit = real.service.config.maxRequestSize;
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    const result = await rawExchange(real.service.port, {
      timeoutMs: 20_000,
      drive: async (socket, closed) => {
        const head = Buffer.from(partHead);
        await writeChunk(socket, headers("Transfer-Encoding: chunked\r\n") + `${head.length.toString(16)}\r\n${partHead}\r\n`);
        for (let sent = 0; sent < 256 * MiB && !closed(); sent += chunk.length) await writeChunk(socket, frame);
      },
    });
    // The service discards at most another `limit` bytes after answering, then closes.
    check413("chunked, client ignores the 413 and keeps sending", result, 2 * limit);
    expect(result.ms).toBeLessThan(5_000);
  });
});

describe("Open Inference Protocol v2 bodies (JSON, errors as {\"error\": \"...\"})", () => {
  const infer = "/v2/models/pyramidnet/infer";
  const tensor = (extra: Record<string, unknown> = {}) => ({
    inputs: [{ name: "input", datatype: "FP32", shape: [1, ...itemShape(real.card.input)], data: Array<number>(itemSize(real.card.input)).fill(0.1), ...extra }],
  });
  const post = (body: string) =>
    send(real.service.port, { method: "POST", path: infer, body, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } });
  const v2Outcome = (reply: Reply) =>
    `${reply.status}${typeof (reply.json as { error?: unknown } | undefined)?.error === "string" ? " {error}" : ""}`;

  it("a valid tensor, and one with harmless parameters named like Object.prototype members", async () => {
    table.check("v2 FP32 tensor", "200", v2Outcome(await post(JSON.stringify(tensor()))));
    const named = tensor({ parameters: { toString: 1, constructor: "x", hasOwnProperty: true } });
    table.check("v2 parameters toString/constructor/hasOwnProperty", "200", v2Outcome(await post(JSON.stringify(named))));
  });

  it("JSON nested 1,000,000 deep, a shape claiming 10^9 images, not JSON", async () => {
    const deep = `{"inputs":${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}}`;
    table.check("v2 JSON nested 1,000,000 deep (2 MB)", "400 {error}", v2Outcome(await post(deep)));
    const claim = await post(JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1e9, 3, 32, 32], data: [0] }] }));
    table.check("v2 shape [1e9, 3, 32, 32] with 1 element", "400 {error}", v2Outcome(claim));
    expect(claim.ms).toBeLessThan(2_000);
    table.check("v2 body not JSON", "400 {error}", v2Outcome(await post("{inputs: nope")));
  });

  it("a chunked JSON body over the byte limit: 413 while streaming, answered, closed", async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x30);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    const head = '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,32,32],"data":[';
    const result = await rawExchange(real.service.port, {
      timeoutMs: 20_000,
      drive: async (socket, closed) => {
        await writeChunk(
          socket,
          `POST ${infer} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
            `${Buffer.byteLength(head).toString(16)}\r\n${head}\r\n`,
        );
        for (let sent = 0; sent < 256 * MiB && !closed() && socket.bytesRead === 0; sent += chunk.length) await writeChunk(socket, frame);
      },
    });
    const shaped = typeof (result.json as { error?: unknown } | undefined)?.error === "string";
    table.check("v2 chunked JSON 256 MiB offered (limit 10 MiB)", "413 {error}, closed", `${result.status ?? "no answer"}${shaped ? " {error}" : ""}, ${result.closedByServer ? "closed" : "left open"}`);
    expect(result.bytesWritten).toBeLessThan(real.service.config.maxRequestSize + 16 * MiB);
    expect(result.ms).toBeLessThan(5_000);
  });
});

describe("slow clients (408), over a real socket", () => {
  let slow: InProcessService;
  beforeAll(async () => {
    slow = await startInProcess(real.card, real.model, { CLASSIFIER_HEADERS_TIMEOUT_MS: "1000", CLASSIFIER_REQUEST_TIMEOUT_MS: "2000" });
  });
  afterAll(async () => {
    await slow?.close();
  });

  function check408(name: string, result: RawResult, deadlineMs: number): void {
    table.check(name, "408 request_timeout, closed", `${result.status ?? "no answer"} ${(result.json as { error?: { code?: string } })?.error?.code ?? ""}, ${result.closedByServer ? "closed" : "left open"}`);
    expect(isErrorEnvelope(result.json)).toBe(true);
    // The deadline, plus Node's check interval (a quarter of the headers timeout), plus slack for a busy machine.
    expect(result.ms).toBeGreaterThanOrEqual(deadlineMs - 50);
    expect(result.ms).toBeLessThan(deadlineMs + 2_500);
  }

  it("headers never finished", async () => {
    const result = await rawExchange(slow.port, {
      timeoutMs: 8_000,
      drive: (socket) => {
        socket.write("POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n");
      },
    });
    check408("slow headers (stalled after 2 lines; headers timeout 1 s)", result, 1_000);
  });

  it("headers dripped a byte at a time (slowloris)", async () => {
    const request = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + "p".repeat(200);
    const result = await rawExchange(slow.port, {
      timeoutMs: 8_000,
      drive: async (socket, closed) => {
        for (let i = 0; i < request.length && !closed(); i++) {
          await writeChunk(socket, request[i]);
          await sleep(50);
        }
      },
    });
    check408("slowloris headers, 1 byte / 50 ms", result, 1_000);
  });

  it("body stalled halfway", async () => {
    const { body, contentType } = multipart([file(real.cat.bytes)]);
    const result = await rawExchange(slow.port, {
      timeoutMs: 8_000,
      drive: (socket) => {
        socket.write(`POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
        socket.write(body.subarray(0, body.length >> 1));
      },
    });
    check408("slow body (stalled halfway; request timeout 2 s)", result, 2_000);
  });

  it("body dripped slowly but steadily", async () => {
    const { body, contentType } = multipart([file(real.cat.bytes)]);
    const result = await rawExchange(slow.port, {
      timeoutMs: 8_000,
      drive: async (socket, closed) => {
        await writeChunk(socket, `POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
        for (let i = 0; i < body.length && !closed(); i += 16) {
          await writeChunk(socket, body.subarray(i, i + 16));
          await sleep(50);
        }
      },
    });
    check408("slow body, 16 B / 50 ms (never finishes in 2 s)", result, 2_000);
  });

  it("the server still answers at once afterwards", async () => {
    const reply = await upload(slow.port, "/predict", [file(real.cat.bytes)]);
    checkPrediction("prediction after the slow clients", reply);
  });
});

describe("malformed HTTP, over a real socket", () => {
  it.each([
    ["garbage request line", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n", "400 bad_request"],
    ["header line without colon", "GET /health/live HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", "400 bad_request"],
    ["Content-Length and chunked together", "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 bad_request"],
    ["headers over 16 KiB", `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${"h".repeat(20_000)}\r\n\r\n`, "431 headers_too_large"],
    ["HTTP/1.1 without Host", "GET /health/live HTTP/1.1\r\n\r\n", "400 missing_host"],
    ["Expect other than 100-continue", "POST /predict HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n", "417 expectation_failed"],
  ])("%s", async (name, request, expected) => {
    const result = await rawExchange(real.service.port, { timeoutMs: 5_000, drive: (socket) => void socket.write(request, "latin1") });
    table.check(name, `${expected}, closed`, `${outcome({ status: result.status ?? 0, json: result.json })}, ${result.closedByServer ? "closed" : "left open"}`);
    expect(isErrorEnvelope(result.json)).toBe(true);
  });

  it("unknown route and wrong method", async () => {
    checkError("GET /nope", "404 not_found", await send(real.service.port, { path: "/nope" }));
    checkError("GET /predict", "405 method_not_allowed", await send(real.service.port, { path: "/predict" }));
  });
});

describe("afterwards", () => {
  it("the service is still ready and no answer leaked a stack trace or an internal path", async () => {
    table.check("ready after every bad input", "200", String((await send(real.service.port, { path: "/health/ready" })).status));
    table.check(`answers scanned for stack traces/paths (${leakScan.scanned})`, "0 leaks", `${leakScan.leaks.length} leaks`);
    expect(leakScan.leaks).toEqual([]);
    expect(leakScan.scanned).toBeGreaterThan(50);
  });
});
