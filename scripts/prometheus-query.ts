/**
 * The smallest Prometheus HTTP API client the release script needs: one instant query, one number back.
 */

/** A Prometheus instant-query answer, as far as the release script reads it. */
interface QueryAnswer {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: ReadonlyArray<{ readonly value?: readonly [number, string] }> };
}

function isQueryAnswer(value: unknown): value is QueryAnswer {
  return typeof value === "object" && value !== null && typeof (value as { status?: unknown }).status === "string";
}

/**
 * The value of a query whose answer is one sample (a scalar-like vector): a number, NaN when Prometheus computed
 * NaN (0/0), undefined when the vector is empty (no series). Fails on an HTTP or Prometheus error, naming it.
 */
export async function queryNumber(baseUrl: string, query: string, timeoutMs = 10_000): Promise<number | undefined> {
  const url = new URL("api/v1/query", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  url.searchParams.set("query", query);
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    throw new Error(`cannot reach Prometheus at ${baseUrl} (${error.message}${cause})`);
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (!isQueryAnswer(body)) throw new Error(`Prometheus at ${baseUrl} answered ${response.status} without a query result`);
  if (body.status !== "success" || body.data === undefined) {
    throw new Error(`Prometheus refused the query (${response.status}): ${body.error ?? body.status}`);
  }
  if (body.data.resultType !== "vector") throw new Error(`expected a vector from Prometheus, got ${body.data.resultType}`);
  const [sample] = body.data.result;
  if (sample?.value === undefined) return undefined;
  return Number(sample.value[1]);
}
