// A notification webhook receiver for tests (NOTIFY_WEBHOOK_URL=<receiver.url>): a node:http server
// on loopback that records every request's headers and JSON body and answers what `answer` says.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface WebhookRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or null when it was not JSON. */
  body: { eventId?: string; orderId?: string; userId?: string; eventType?: string } | null;
  status: number;
}

export interface WebhookReceiver {
  /** http://127.0.0.1:<port>/hook */
  url: string;
  requests(): WebhookRequest[];
  close(): Promise<void>;
}

/** `answer` picks the status of each request, given it and the ones before it (default 204). */
export async function startWebhookReceiver(
  answer: (request: Omit<WebhookRequest, "status">, earlier: readonly WebhookRequest[]) => number = () => 204,
): Promise<WebhookReceiver> {
  const seen: WebhookRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: WebhookRequest["body"] = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        /* kept as null: the tests' assertions notice a body that is not the notification */
      }
      const request = { method: req.method ?? "", headers: req.headers, body };
      const status = answer(request, seen);
      seen.push({ ...request, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests: () => [...seen],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
