/** The demo tenant and hook that `npm start` makes and keeps between starts. */
import { existsSync, readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

export const DEMO_FILE = ".wrangler/demo-tenant.json";

export interface Demo {
  orgId: string;
  tenantId: string;
  key: string;
  hook?: { id: string; secret: string };
}

export function readDemo(): Demo | null {
  return existsSync(DEMO_FILE) ? (JSON.parse(readFileSync(DEMO_FILE, "utf8")) as Demo) : null;
}

/** A delivery to a hook, signed now the Standard Webhooks way: its id, headers and body. */
export function signedDelivery(secret: string, payload: unknown) {
  const body = JSON.stringify(payload);
  const id = `msg_${Date.now()}`;
  const now = new Date();
  return {
    id,
    body,
    headers: {
      "Content-Type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, now, body),
    },
  };
}
