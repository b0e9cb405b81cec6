-- The hold of a request whose outcome upstream is unknown (state 'unknown'): once the reconciler
-- has released it, having found in its listings that upstream made nothing, the key is free again.
ALTER TABLE idempotency_keys ADD COLUMN hold_id TEXT;
