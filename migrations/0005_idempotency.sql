-- Idempotency-Key on creates: the first answer, replayed for a retry with the same key.
CREATE TABLE idempotency_keys (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  -- Unique per attempt: the request whose token is stored is the one that claimed the key.
  claim_token TEXT NOT NULL,
  -- pending: under way; done: answer stored; unknown: upstream's outcome was lost.
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'unknown')),
  status INTEGER,
  body TEXT,
  applied TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
