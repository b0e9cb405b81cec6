-- One policy document per org and per tenant: the JSON an admin PUT, after validation.
-- Kept as the wire document (decimal strings, unset fields absent) so GET returns what was PUT;
-- the effective policy is computed from the org's and the tenant's documents per request.
CREATE TABLE policies (
  scope TEXT NOT NULL CHECK (scope IN ('org', 'tenant')),
  scope_id TEXT NOT NULL,
  document TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (scope, scope_id)
);
