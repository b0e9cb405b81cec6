-- A profile or workspace create on its way upstream: written before it is sent and removed once
-- its object is recorded as the tenant's. One left behind means upstream may have made the object
-- while the record failed; the reconciler finds it by its fingerprint (name) and time.
CREATE TABLE create_intents (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('profile', 'workspace')),
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX create_intents_by_time ON create_intents (created_at);
