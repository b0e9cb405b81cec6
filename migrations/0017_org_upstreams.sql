-- An org's own Browser Use account: its API key and webhook secret, sealed with AES-GCM under the
-- deployment's UPSTREAM_KEY_ENCRYPTION_KEY (bound to the org, so a sealed value cannot be moved to
-- another org). Orgs without a row use the deployment's key. `reconciled_at` is when the
-- reconciler last went through the account, so each pass takes the ones waiting longest.
CREATE TABLE org_upstreams (
  org_id TEXT PRIMARY KEY REFERENCES orgs (id),
  api_key_sealed TEXT NOT NULL,
  webhook_secret_sealed TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  reconciled_at TEXT
);
CREATE INDEX org_upstreams_by_reconciled ON org_upstreams (reconciled_at);
