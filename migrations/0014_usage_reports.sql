-- Usage reports: which key created each object (reports group by key), and indexes for the
-- org-wide and time-ranged sums over cost events.
ALTER TABLE resources ADD COLUMN key_id TEXT;
CREATE INDEX cost_events_by_org ON cost_events (org_id, at);
CREATE INDEX cost_events_by_time ON cost_events (at);
