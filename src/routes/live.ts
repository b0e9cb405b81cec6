import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { fromMicros } from "../lib/money";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { LiveItems } from "../schemas/gateway";
import { listLiveItems } from "../store/resources";
import { queryInt, queryScalar } from "../v3/schemas/common";

const LiveQuery = z.object({
  orgId: z.optional(queryScalar(z.uuid())),
  tenantId: z.optional(queryScalar(z.uuid())),
  limit: z._default(queryInt(1, 200), 100),
});

/**
 * The live sessions and browsers of the filter, as `{"items": [...]}`: kind, id, owner, status,
 * createdAt, viewAt, liveUrl and costUsd (what the ledger has booked for it so far).
 */
export async function answerLive(
  c: Context<AppEnv>,
  filter: { orgId?: string; tenantId?: string },
  limit: number,
): Promise<Response> {
  const items = await listLiveItems(c.env.DB, filter, limit);
  return c.json({
    items: items.map(({ costMicros, ...item }) => ({ ...item, costUsd: fromMicros(costMicros) })),
  } satisfies z.infer<typeof LiveItems>);
}

/** GET /admin/v1/live: what runs now across every tenant (or one org's, or one tenant's). */
export const adminLive = new Hono<AppEnv>().get(
  "/live",
  describeRoute({
    operationId: "listLive",
    summary: "Live sessions and browsers",
    description:
      "Of every tenant, of an org (`orgId`) or of one tenant (`tenantId`), newest first, each with what the ledger has booked for it so far.",
    responses: { 200: LiveItems },
  }),
  validate("query", LiveQuery),
  (c) => {
    const { limit, ...filter } = c.req.valid("query");
    return answerLive(c, filter, limit);
  },
);

/** The query of GET /gateway/v1/live: a tenant sees its own, so only the limit is asked. */
export const TenantLiveQuery = z.pick(LiveQuery, { limit: true });
