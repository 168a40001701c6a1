/**
 * OpenAPI building blocks shared by the route modules' fragments: references, the X-Request-Id header, the
 * service's error envelope, and the components every fragment may point at.
 */
import type { Json, OpenApiFragment } from "./route-context";

export const responseRef = (name: string): Json => ({ $ref: `#/components/responses/${name}` });
export const schemaRef = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

export function requestIdHeader(): Record<string, Json> {
  return { "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" } };
}

/** A response with the service's error envelope ({"error":{"code","message"}}). */
export function errorResponse(description: string, extraHeaders: readonly string[] = []): Record<string, Json> {
  const headers: Record<string, Json> = requestIdHeader();
  for (const name of extraHeaders) headers[name] = { $ref: `#/components/headers/${name}` };
  return { description, headers, content: { "application/json": { schema: schemaRef("Error") } } };
}

/** A GET (and HEAD) path that answers `description` as `contentType`, or 405 to other methods. */
export function readOnlyPath(tag: string, summary: string, description: string, contentType: string, schema: Json): Json {
  return {
    get: {
      tags: [tag],
      summary,
      responses: {
        "200": { description, content: { [contentType]: { schema } } },
        "405": responseRef("MethodNotAllowed"),
      },
    },
  };
}

/** The parts no single route owns: the error envelope, the headers, and the answers any route may give. */
export const COMMON_COMPONENTS = {
  schemas: {
    Error: {
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message"],
          properties: {
            code: { type: "string", description: "Stable machine-readable code.", examples: ["unsupported_image"] },
            message: { type: "string", description: "What went wrong and what to do." },
          },
        },
      },
    },
  },
  headers: {
    "X-Request-Id": { description: "The request's id: the client's own when sane, otherwise generated.", schema: { type: "string" } },
    "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 1 } },
    Allow: { description: "Methods the path supports.", schema: { type: "string" } },
  },
  responses: {
    MethodNotAllowed: errorResponse("The path does not support this method; see the Allow header.", ["Allow"]),
    InternalError: errorResponse("A fault inside the service, such as a failed inference."),
  },
} satisfies Omit<OpenApiFragment, "paths"> & { headers: Record<string, Json> };
