-- The org of each inbound hook delivery (its hook's), so that an org's deliveries, newest first,
-- are one range of an index (GET /admin/v1/orgs/{orgId}/deliveries) rather than every delivery of
-- every hook of the org, sorted.
ALTER TABLE hook_deliveries ADD COLUMN org_id TEXT;
UPDATE hook_deliveries SET org_id = (SELECT org_id FROM hooks WHERE hooks.id = hook_deliveries.hook_id);
CREATE INDEX hook_deliveries_by_org ON hook_deliveries (org_id, created_at, delivery_id);
