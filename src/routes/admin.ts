import { Hono } from "hono";
import type { AppEnv } from "../env";
import { adminAuth } from "../middleware/admin-auth";
import { adminAlerts } from "./admin-alerts";
import { adminHooks } from "./admin-hooks";
import { adminKeys } from "./admin-keys";
import { adminOrgs } from "./admin-orgs";
import { adminPolicies } from "./admin-policies";
import { adminUpstreams } from "./admin-upstreams";
import { adminUsage } from "./admin-usage";

/** /admin/v1: orgs (and their upstream accounts), tenants, keys, policies, hooks, alerts and usage. Guarded by the admin token. */
export const admin = new Hono<AppEnv>()
  .use(adminAuth())
  .route("/", adminOrgs)
  .route("/", adminUpstreams)
  .route("/", adminKeys)
  .route("/", adminPolicies)
  .route("/", adminHooks)
  .route("/", adminAlerts)
  .route("/", adminUsage);
