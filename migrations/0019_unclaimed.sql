-- 1 for a session or browser of lost creates several tenants' holds fit and none can be told
-- apart: it belongs to no tenant, so no one can use it and nothing it costs from then on can be
-- charged to anyone. The reconciler stops it at once, and keeps stopping it (each pass, while it
-- is live) when a stop fails.
ALTER TABLE resources ADD COLUMN unclaimed INTEGER NOT NULL DEFAULT 0;
