-- 1 for a session created with `useOwnKey: true`. Upstream keeps a session's key for its
-- follow-ups, and no view of it says which key it runs on: the gateway remembers, so a follow-up
-- is refused once the policy no longer allows the account's own LLM key. The hold carries it too,
-- for a create whose answer was lost and whose session the reconciler records later.
ALTER TABLE resources ADD COLUMN own_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN own_key INTEGER NOT NULL DEFAULT 0;
