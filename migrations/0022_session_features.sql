-- Account-wide features a session was created with, which upstream keeps for its follow-ups and
-- none of its views shows: own_key (1: `useOwnKey: true`, inference on the account's own LLM
-- key) and scheduled_tasks (1: `enableScheduledTasks: true`). The gateway remembers them, so a
-- follow-up is refused once the policy no longer allows them. The hold carries them too, for a
-- create whose answer was lost and whose session the reconciler records later.
ALTER TABLE resources ADD COLUMN own_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN scheduled_tasks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN own_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN scheduled_tasks INTEGER NOT NULL DEFAULT 0;
