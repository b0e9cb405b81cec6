-- Orgs own the upstream account; tenants belong to an org; keys belong to a tenant.
CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES orgs (id),
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX tenants_by_org ON tenants (org_id);

-- Only the SHA-256 of a key is stored; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

-- Everything created through the gateway, with its owner and the last view upstream gave of it.
CREATE TABLE resources (
  kind TEXT NOT NULL CHECK (kind IN ('session', 'browser', 'profile', 'workspace')),
  id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT,
  status TEXT,
  view TEXT NOT NULL,
  view_at TEXT NOT NULL,
  -- When the reconciler last asked upstream about it: it asks the least recently checked first.
  checked_at TEXT,
  PRIMARY KEY (kind, id)
);
CREATE INDEX resources_by_tenant ON resources (tenant_id, kind, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- Latest cost figures of each agent session and browser; money in integer micro-USD, MB in micro-MB.
CREATE TABLE usage (
  kind TEXT NOT NULL CHECK (kind IN ('session', 'browser')),
  id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  status TEXT,
  model TEXT,
  proxy_country TEXT,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  proxy_used_micro_mb INTEGER NOT NULL DEFAULT 0,
  llm_cost_micros INTEGER NOT NULL DEFAULT 0,
  proxy_cost_micros INTEGER NOT NULL DEFAULT 0,
  browser_cost_micros INTEGER NOT NULL DEFAULT 0,
  total_cost_micros INTEGER NOT NULL DEFAULT 0,
  -- 1 once upstream reported a final state; final figures are authoritative (a browser's refund lowers them).
  final INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE INDEX usage_by_tenant ON usage (tenant_id);

-- Append-only: one row per observed increase of any figure, holding the deltas.
CREATE TABLE cost_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  at TEXT NOT NULL,
  status TEXT,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  proxy_used_micro_mb INTEGER NOT NULL,
  llm_cost_micros INTEGER NOT NULL,
  proxy_cost_micros INTEGER NOT NULL,
  browser_cost_micros INTEGER NOT NULL,
  total_cost_micros INTEGER NOT NULL
);
CREATE INDEX cost_events_by_resource ON cost_events (kind, id);
CREATE INDEX cost_events_by_tenant ON cost_events (tenant_id, at);
