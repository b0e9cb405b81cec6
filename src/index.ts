import { Hono } from "hono";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./middleware/errors";
import { requestId } from "./middleware/request-id";
import { admin } from "./routes/admin";
import { health } from "./routes/health";
import { v3 } from "./routes/v3";

/** The gateway: what is mounted where. Everything else lives in routes/, middleware/ and store/. */
const app = new Hono<AppEnv>()
  .use(requestId())
  .route("/", health)
  .route("/api/v3", v3)
  .route("/admin/v1", admin);

app.onError(onError);
app.notFound(onNotFound);

export default app;
