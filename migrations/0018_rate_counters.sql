-- `requestsPerMinute` is counted by a Durable Object per key (src/limits/rate-counter.ts), not in
-- D1: the windows table is no longer written or read.
DROP TABLE rate_windows;
