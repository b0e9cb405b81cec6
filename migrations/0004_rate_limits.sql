-- Requests per key per fixed one-minute window, for the requestsPerMinute policy.
CREATE TABLE rate_windows (
  key_id TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key_id, window_start)
);
