-- One counter per budget scope and period; the period is part of the key, so a new period
-- starts at zero without a reset job. Caps live in the policy and are checked at admission.
CREATE TABLE budget_counters (
  scope TEXT NOT NULL CHECK (scope IN ('org', 'tenant')),
  scope_id TEXT NOT NULL,
  period_key TEXT NOT NULL,
  held_micros INTEGER NOT NULL DEFAULT 0,
  spent_micros INTEGER NOT NULL DEFAULT 0,
  -- How much of spent went past the holds it was booked under: upstream's one-step overshoot.
  overshoot_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, period_key)
);

-- A hold reserves money in both scopes for one task or browser until it ends.
CREATE TABLE holds (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('session', 'browser')),
  -- The session or browser; null while its create is in flight (or its answer was lost).
  resource_id TEXT,
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  org_period TEXT NOT NULL,
  tenant_period TEXT NOT NULL,
  -- 0 for a task no budget or ceiling bounds: it reserves nothing but still counts as a live slot.
  amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
  -- The session's totalCostUsd when the task was dispatched; the task costs what it adds to it.
  base_total_micros INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('open', 'settled', 'released')),
  settled_micros INTEGER,
  settle_token TEXT,
  created_at TEXT NOT NULL,
  dispatched_at TEXT,
  settled_at TEXT
);
CREATE UNIQUE INDEX holds_one_open_per_resource ON holds (kind, resource_id) WHERE state = 'open' AND resource_id IS NOT NULL;
CREATE INDEX holds_open ON holds (state, created_at) WHERE state = 'open';
CREATE INDEX holds_by_tenant ON holds (tenant_id, state);

-- Concurrency checks at admission count a scope's live sessions and browsers.
CREATE INDEX resources_live_by_org ON resources (org_id, kind, status) WHERE deleted_at IS NULL;
CREATE INDEX resources_live_by_tenant ON resources (tenant_id, kind, status) WHERE deleted_at IS NULL;
