-- How much of each session's and browser's total has been charged to its org's and tenant's
-- budgets: by settled holds, and directly for spend outside any hold (a session without a task,
-- idle time after a kept-alive session's last task). A new hold starts where this left off.
ALTER TABLE usage ADD COLUMN charged_micros INTEGER NOT NULL DEFAULT 0;
-- What was booked before this column existed is not charged again: an object with an open hold
-- starts where its settled holds left off (its open hold's base); any other, at its total.
UPDATE usage SET charged_micros = CASE
  WHEN EXISTS (SELECT 1 FROM holds h WHERE h.kind = usage.kind AND h.resource_id = usage.id AND h.state = 'open')
    THEN coalesce((SELECT max(h.base_total_micros + h.settled_micros) FROM holds h
      WHERE h.kind = usage.kind AND h.resource_id = usage.id AND h.state = 'settled'), 0)
  ELSE total_cost_micros END;
