/** Runs one service as a Node process: Node's process, file and HTTP server APIs for runService. */
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { serve } from "@hono/node-server";
import type { ServiceDefinition } from "../service-definition.ts";
import type { HttpPost } from "../../shared/log-shipper.ts";
import { runService } from "../run-service.ts";
import type { ConnectionFacts } from "../../otel/http-server-span.ts";

/**
 * POSTs log batches with node:http on one kept-alive connection: a third of the CPU per line of
 * global fetch (undici) for the log shipper's 1,000-line bodies, measured with bench/log-shipping.ts.
 */
export function nodeHttpPost(): HttpPost {
  const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 1 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 1 }) };
  return (url, { headers, body, timeoutMs }) =>
    new Promise((resolve, reject) => {
      const secure = url.startsWith("https:");
      const payload = Buffer.from(body);
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: "POST",
          agent: secure ? agents.https : agents.http,
          headers: { ...headers, "content-length": payload.length },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: "TimeoutError" })));
      req.on("error", reject);
      req.end(payload);
    });
}

/** @hono/node-server hands each request its IncomingMessage as `env.incoming`. */
function nodeConnection(env: unknown): ConnectionFacts | undefined {
  const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return undefined;
  return { clientAddress: incoming.socket.remoteAddress, clientPort: incoming.socket.remotePort, protocolVersion: incoming.httpVersion };
}

export function runServiceOnNode(definition: ServiceDefinition<unknown>): Promise<void> {
  return runService(definition, {
    runtime: "node",
    env: process.env,
    pid: process.pid,
    readTextFile: (path) => readFileSync(path, "utf8"),
    exit: (code) => process.exit(code),
    onSignal: (signal, handler) => process.on(signal, handler),
    httpPost: nodeHttpPost(),
    connection: nodeConnection,
    serve(fetch, { port, hostname, onListening, onError }) {
      const server = serve({ fetch, port, hostname }, onListening);
      server.on("error", onError);
      return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    },
  });
}
