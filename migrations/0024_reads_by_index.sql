-- The live sessions and browsers (see liveResource in src/store/resources.ts): of everyone (the
-- dashboard's list of what runs now, the reconciler's watch list), of an org and of a tenant (their
-- counts at admission and in the account read, a kill switch's list, a delete's or an account
-- move's check), so each reads what is live, not every session and browser ever made. Only live
-- rows are in them, so they stay small, and statistics (PRAGMA optimize, which D1 recommends after
-- creating an index) show them as what they are: with every ended row in the index too, the
-- planner took the few live rows of a kind and status for thousands and scanned instead.
-- resources_live_by_tenant stays: a list's total is counted on it.
CREATE INDEX resources_live ON resources (kind, status)
  WHERE deleted_at IS NULL AND kind IN ('session', 'browser') AND status IN ('created', 'idle', 'running', 'active');
DROP INDEX resources_live_by_org;
CREATE INDEX resources_live_of_org ON resources (org_id, kind, status)
  WHERE deleted_at IS NULL AND kind IN ('session', 'browser') AND status IN ('created', 'idle', 'running', 'active');
CREATE INDEX resources_live_of_tenant ON resources (tenant_id, kind, status)
  WHERE deleted_at IS NULL AND kind IN ('session', 'browser') AND status IN ('created', 'idle', 'running', 'active');

-- 1 once the ledger has a row of the session or browser (usage): the reconciler watches one recorded
-- but never booked (a booking that failed after the record), and finds those in an index of their
-- own rather than by looking for the usage row of every object ever recorded. Kept by triggers,
-- whichever of the two rows is written first; usage rows are never deleted.
-- Rows made before this migration are nearly all booked: the column starts at 1 (no row is
-- rewritten for it; adding a column with a default is instant) and only the few without a usage
-- row are set to 0, so the migration writes what it must, not every row with its view. A new row
-- is written with `booked = 0` by the statement that records it (recordCreatedStatement), the one
-- statement that adds rows here.
ALTER TABLE resources ADD COLUMN booked INTEGER NOT NULL DEFAULT 1;
UPDATE resources SET booked = 0
  WHERE NOT EXISTS (SELECT 1 FROM usage u WHERE u.kind = resources.kind AND u.id = resources.id);
CREATE TRIGGER usage_books_resource AFTER INSERT ON usage BEGIN
  UPDATE resources SET booked = 1 WHERE kind = NEW.kind AND id = NEW.id AND booked = 0;
END;
CREATE TRIGGER resources_booked_on_record AFTER INSERT ON resources
  WHEN EXISTS (SELECT 1 FROM usage WHERE kind = NEW.kind AND id = NEW.id) BEGIN
  UPDATE resources SET booked = 1 WHERE kind = NEW.kind AND id = NEW.id;
END;
CREATE INDEX resources_unbooked ON resources (kind, id)
  WHERE booked = 0 AND deleted_at IS NULL AND kind IN ('session', 'browser');

-- A redelivery names an event by its id or by its hook delivery's webhook-id: both are an index's.
CREATE INDEX events_by_delivery ON events (delivery_id) WHERE delivery_id IS NOT NULL;

-- The reconciler forgets idempotency keys past their time every pass: one range, not every key
-- (with its stored answer) read to find the old ones.
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);

-- The total of an org's deliveries, counted per hook and tenant on the index alone, and only then
-- checked against the hooks and tenants that are not deleted (a few lookups, not two a delivery).
CREATE INDEX hook_deliveries_by_org_hook ON hook_deliveries (org_id, hook_id, tenant_id);
