import { Hono } from "hono";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./middleware/errors";
import { recordRefusals } from "./middleware/record-refusals";
import { requestId } from "./middleware/request-id";
import { admin } from "./routes/admin";
import { apiDocs } from "./routes/api-docs";
import { dashboard } from "./routes/dashboard";
import { gatewayApi } from "./routes/gateway";
import { health } from "./routes/health";
import { hookDeliveries } from "./routes/hooks";
import { upstreamWebhooks } from "./routes/upstream-webhooks";
import { v3 } from "./routes/v3";

/**
 * The gateway's HTTP app: what is mounted where. Everything else lives in routes/, middleware/ and
 * store/. Its own module (not index.ts) so tests can read its route table (`app.routes`) without
 * the worker's entry exporting anything but handlers.
 */
export const app = new Hono<AppEnv>()
  .use(requestId())
  .use(recordRefusals())
  .route("/", health)
  .route("/api/v3", v3)
  .route("/gateway/v1", gatewayApi)
  .route("/hooks", hookDeliveries)
  .route("/webhooks", upstreamWebhooks)
  .route("/admin/v1", admin)
  .route("/", dashboard)
  .route("/", apiDocs);

app.onError(onError);
app.notFound(onNotFound(app.routes));
