-- Events the gateway posts out (a hook's `session.finished` callback, a `budget.threshold_crossed`
-- alert): the body is fixed when the event is made, and `id` is the webhook-id of every attempt,
-- so a receiver can deduplicate. pending: to be (re)tried at next_attempt_at; delivered; failed:
-- its retries are spent, or there is nowhere left to send it.
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  org_id TEXT NOT NULL,
  tenant_id TEXT,
  hook_id TEXT,
  delivery_id TEXT,
  -- For alerts: which scope, period and threshold it announces (at most one event each).
  alert_key TEXT,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  -- The attempts made before the latest redelivery: its retries count from there.
  retry_base INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  delivered_at TEXT
);
CREATE UNIQUE INDEX events_one_per_delivery ON events (hook_id, delivery_id) WHERE hook_id IS NOT NULL;
CREATE UNIQUE INDEX events_one_per_alert ON events (alert_key) WHERE alert_key IS NOT NULL;
CREATE INDEX events_due ON events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX events_by_org ON events (org_id, type, created_at);

-- Every attempt to deliver an event: when, and what came back (a status, or why there was none).
CREATE TABLE event_attempts (
  event_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at TEXT NOT NULL,
  status INTEGER,
  error TEXT,
  PRIMARY KEY (event_id, attempt)
);
