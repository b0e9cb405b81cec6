-- Inbound hooks: a signed HTTP call from another system starts a task for the hook's tenant.
-- The secret signs both ways (Standard Webhooks, whsec_…). On rotation the old one keeps
-- verifying until previous_secret_until.
CREATE TABLE hooks (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  task TEXT NOT NULL,
  options TEXT NOT NULL,
  callback_url TEXT,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_until TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  -- A suspended hook answers deliveries 404, as a deleted one does, until it is resumed.
  suspended_at TEXT,
  deleted_at TEXT
);
CREATE INDEX hooks_by_tenant ON hooks (tenant_id, created_at) WHERE deleted_at IS NULL;

-- One row per inbound delivery (its webhook-id), for 24 hours of deduplication and for the
-- admin's view of deliveries. pending: being admitted; done: answered (status, body);
-- unknown: upstream's outcome was lost (the reconciler settles it; it is not run again).
CREATE TABLE hook_deliveries (
  hook_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  claim_token TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'unknown')),
  status INTEGER,
  body TEXT,
  session_id TEXT,
  -- The hold of a delivery whose outcome was lost: the reconciler ties its session back here.
  hold_id TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (hook_id, delivery_id)
);
CREATE INDEX hook_deliveries_by_session ON hook_deliveries (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX hook_deliveries_by_time ON hook_deliveries (hook_id, created_at);
CREATE INDEX hook_deliveries_by_hold ON hook_deliveries (hold_id) WHERE hold_id IS NOT NULL;
