-- The audit log: every admin change (who, what, before and after, secrets redacted) and the
-- tenants' refusals by policy and budget, counted per tenant, code and minute. Rows are never
-- changed, except a refusal row's count.
CREATE TABLE audit_log (
  -- Insertion order: the log reads newest first by it, and its cursor is one.
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  at TEXT NOT NULL,
  -- X-Actor as given, else the admin token's name; `gateway` for refusals.
  actor TEXT NOT NULL,
  -- The name of the admin token the change was made with; NULL for refusals.
  token_name TEXT,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  org_id TEXT,
  tenant_id TEXT,
  -- JSON, or NULL where there was nothing before (a create) or after (a delete).
  before TEXT,
  after TEXT,
  request_id TEXT,
  -- Refusals only: the error code, how many in the minute, and that minute (UTC, YYYY-MM-DDTHH:MM).
  code TEXT,
  count INTEGER,
  minute TEXT
);
-- The refusal counter's key; change rows have no code or minute, and NULLs never conflict.
CREATE UNIQUE INDEX audit_refusal_minute ON audit_log (tenant_id, code, minute);
CREATE INDEX audit_by_org ON audit_log (org_id, seq);
CREATE INDEX audit_by_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_by_action ON audit_log (action, seq);
CREATE INDEX audit_by_at ON audit_log (at);
