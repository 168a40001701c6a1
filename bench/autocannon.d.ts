/** The part of autocannon@8's API the benchmark uses (the package ships no type declarations). */
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  interface Request {
    readonly method?: "GET" | "POST" | "PUT" | "DELETE";
    readonly path?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: string | Buffer;
  }

  interface Options {
    readonly url: string;
    readonly connections?: number;
    /** Seconds. */
    readonly duration?: number;
    /** Seconds to wait for a response. */
    readonly timeout?: number;
    /** Each connection sends these in order, then starts over. */
    readonly requests?: readonly Request[];
  }

  interface Result {
    /** Seconds. */
    readonly duration: number;
    /** Connection errors, timeouts included. */
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
  }

  interface Instance extends EventEmitter, PromiseLike<Result> {
    stop(): void;
  }

  function autocannon(options: Options): Instance;
  export default autocannon;
}
