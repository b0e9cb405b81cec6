/**
 * Inboxes: a webhook receiver beside the emulator, for the gateway's callbacks in tests and in
 * local development. Anything POSTed to `/_emulator/inbox/{name}` is kept (headers, body, time)
 * and answered 200, or, while the inbox is told to fail, with its failure status. No API key:
 * callbacks carry none, and the emulator listens on loopback only.
 *
 *   POST /_emulator/inbox/{name}          a delivery; 200 `{"received": true}` or the failure
 *   GET  /_emulator/inbox/{name}          `{"requests": [{"at", "headers", "body", "status"}]}`
 *   POST /_emulator/inbox/{name}/config   `{"failFirst": 2, "status": 503, "print": true}`
 */
import { Hono } from "hono";
import * as z from "zod";
import { type EmuEnv, parse, readBody } from "./http";

interface Received {
  at: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

interface Inbox {
  requests: Received[];
  failFirst: number;
  status: number;
  print: boolean;
}

const InboxConfig = z
  .object({
    failFirst: z.int().min(0).max(1000).optional(),
    status: z.int().min(100).max(599).optional(),
    print: z.boolean().optional(),
  })
  .strict();

/** The inbox routes, with their own store; `log` prints deliveries to inboxes told to print. */
export function inboxRoutes(log: (line: string) => void = console.log) {
  const inboxes = new Map<string, Inbox>();
  const inbox = (name: string) => {
    let box = inboxes.get(name);
    if (!box) {
      box = { requests: [], failFirst: 0, status: 500, print: false };
      inboxes.set(name, box);
    }
    return box;
  };
  return new Hono<EmuEnv>()
    .post("/inbox/:name", async (c) => {
      const box = inbox(c.req.param("name"));
      const failing = box.failFirst > 0;
      if (failing) box.failFirst--;
      const status = failing ? box.status : 200;
      const received = {
        at: new Date().toISOString(),
        headers: c.req.header(),
        body: await c.req.text(),
        status,
      };
      box.requests.push(received);
      if (box.print)
        log(`inbox ${c.req.param("name")}: ${received.headers["webhook-id"] ?? "-"} ${received.body}`);
      return failing ? c.json({ detail: "failing as told" }, status as 500) : c.json({ received: true });
    })
    .get("/inbox/:name", (c) => c.json({ requests: inbox(c.req.param("name")).requests }))
    .post("/inbox/:name/config", async (c) => {
      const box = inbox(c.req.param("name"));
      Object.assign(box, parse(InboxConfig, "body", await readBody(c, true)));
      return c.json({ failFirst: box.failFirst, status: box.status, print: box.print });
    });
}
