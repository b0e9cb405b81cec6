-- Where an org hears about its spending: one URL per org, its signing secret (Standard Webhooks,
-- whsec_…; the old one is kept for 24 hours after a rotation, as for hooks, though only the
-- current one signs alone after it), and the thresholds in percent of a scope's cap (default 50, 80, 100).
CREATE TABLE alert_targets (
  org_id TEXT PRIMARY KEY REFERENCES orgs (id),
  url TEXT NOT NULL,
  thresholds TEXT NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_until TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
