-- Operating many orgs: suspension (a kill switch) and soft deletion of orgs and tenants, and the
-- lifecycle of keys (read-only scope, expiry, rotation with a grace, when each was last used).
ALTER TABLE orgs ADD COLUMN suspended_at TEXT;
-- 1 when the suspension was asked to stop what runs (a kill switch): the reconciler stops the rest.
ALTER TABLE orgs ADD COLUMN suspension_stops INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN deleted_at TEXT;
ALTER TABLE tenants ADD COLUMN suspended_at TEXT;
ALTER TABLE tenants ADD COLUMN suspension_stops INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN deleted_at TEXT;
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'read-only'));
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
-- Written at most once a minute per key, not on every request.
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
CREATE INDEX orgs_by_name ON orgs (name);
