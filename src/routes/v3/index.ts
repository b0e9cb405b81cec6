import { Hono } from "hono";
import type { AppEnv } from "../../env";
import { orgUpstream } from "../../middleware/org-upstream";
import { loadPolicy } from "../../middleware/policy";
import { rateLimit } from "../../middleware/rate-limit";
import { runToCompletion } from "../../middleware/run-to-completion";
import { tenantAuth } from "../../middleware/tenant-auth";
import { billing } from "./billing";
import { browsers } from "./browsers";
import { profiles } from "./profiles";
import { sessions } from "./sessions";
import { workspaces } from "./workspaces";

/** /api/v3: the Browser Use v3 API, for tenants with a gateway key. */
export const v3 = new Hono<AppEnv>()
  .use(runToCompletion())
  .use(tenantAuth())
  .use(loadPolicy())
  .use(rateLimit())
  .use(orgUpstream())
  .route("/sessions", sessions)
  .route("/browsers", browsers)
  .route("/profiles", profiles)
  .route("/workspaces", workspaces)
  .route("/billing", billing);
