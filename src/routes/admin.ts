import { Hono } from "hono";
import type { AppEnv } from "../env";
import { adminAuth } from "../middleware/admin-auth";
import { changedBy } from "../middleware/audit";
import { adminAlerts } from "./admin-alerts";
import { adminAudit } from "./admin-audit";
import { adminBudgets } from "./admin-budgets";
import { adminHooks } from "./admin-hooks";
import { adminKeys } from "./admin-keys";
import { adminOrgs } from "./admin-orgs";
import { adminPolicies } from "./admin-policies";
import { adminUpstreams } from "./admin-upstreams";
import { adminUsage } from "./admin-usage";
import { adminLive } from "./live";

/**
 * /admin/v1: orgs (and their upstream accounts), tenants, keys, policies, hooks, alerts, budgets,
 * usage, what is live and the audit log. Guarded by the admin token; every change is recorded in the audit log as made by
 * `changedBy`.
 */
export const admin = new Hono<AppEnv>()
  .use(adminAuth())
  .use(changedBy())
  .route("/", adminOrgs)
  .route("/", adminUpstreams)
  .route("/", adminKeys)
  .route("/", adminPolicies)
  .route("/", adminHooks)
  .route("/", adminAlerts)
  .route("/", adminBudgets)
  .route("/", adminUsage)
  .route("/", adminLive)
  .route("/", adminAudit);
