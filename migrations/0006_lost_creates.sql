-- What a create sent upstream, so the reconciler can find the object of a create whose answer
-- was lost without guessing: a tag that makes the forwarded maxCostUsd unique (the hold less
-- `ceiling_tag` micro-USD), and the fields upstream echoes back (model, country, profile,
-- workspace; a browser's timeout and metadata) as canonical JSON.
ALTER TABLE holds ADD COLUMN ceiling_tag INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN fingerprint TEXT;
-- 1 for the hold of a session created without a task: it only takes a live slot until upstream
-- answers, and is released (not attached) once its session is recorded.
ALTER TABLE holds ADD COLUMN slot_only INTEGER NOT NULL DEFAULT 0;
