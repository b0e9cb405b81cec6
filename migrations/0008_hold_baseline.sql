-- Where the held task's session stood when the task was dispatched (its step count and updatedAt
-- in the view read just before), so only a view that shows progress past it can settle the task:
-- a stale `idle` read sent after the dispatch must not.
ALTER TABLE holds ADD COLUMN base_step_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN base_updated_at TEXT;
