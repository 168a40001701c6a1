/** The HTTP server's own answers: slow clients get 408 and malformed HTTP gets 400, both as JSON errors. */
import net from "node:net";
import { createHttpServer } from "../../service/http/server";

let server: ReturnType<typeof createHttpServer>;
let port: number;

beforeAll(async () => {
  // Answers once the body is in; "/early" answers at once, as the service does for 413 and 503.
  server = createHttpServer(
    (req, res) => {
      if (req.url === "/early") res.end("early");
      else req.resume().on("end", () => res.end("ok"));
    },
    { headersTimeoutMs: 200, requestTimeoutMs: 400, keepAliveTimeoutMs: 1200 },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Sends raw bytes (the rest never comes) and collects everything until the server closes the connection. */
function exchange(raw: string): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => socket.write(raw));
    let text = "";
    socket.setEncoding("utf8").on("data", (d: string) => (text += d));
    socket.on("close", () => resolve({ text, ms: Date.now() - started }));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("server did not close the connection")));
  });
}

function parse(text: string): { status: number; headers: string; body: unknown } {
  const [head, body] = text.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), headers: head, body: JSON.parse(body) };
}

describe("createHttpServer", () => {
  it("answers 408 JSON to a client that does not finish its headers in time", async () => {
    const { text, ms } = await exchange("GET / HTTP/1.1\r\nHost: x\r\n");
    const response = parse(text);
    expect(response.status).toBe(408);
    expect(response.body).toEqual({ error: { code: "request_timeout", message: expect.any(String) } });
    expect(response.headers).toMatch(/X-Request-Id: [0-9a-f-]{36}/);
    expect(ms).toBeLessThan(2000);
  });

  it("answers 408 JSON to an upload that does not finish in time", async () => {
    const { text } = await exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little");
    expect(parse(text).status).toBe(408);
  });

  it("does not answer twice when a request answered early never sends its body", async () => {
    const { text } = await exchange("POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npart");
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
  });

  it("keeps an idle keep-alive connection open for keepAliveTimeoutMs, past the request deadlines", async () => {
    const { text, ms } = await exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/\r\nKeep-Alive: timeout=1\r\n/);
    expect(ms).toBeGreaterThanOrEqual(1200);
    // Closed by this setting, not by Node's 5 s default.
    expect(ms).toBeLessThan(4000);
  });

  it("answers 400 JSON to malformed HTTP", async () => {
    const { text } = await exchange("NOT HTTP AT ALL\r\n\r\n");
    const response = parse(text);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: { code: "bad_request", message: expect.any(String) } });
  });
});
