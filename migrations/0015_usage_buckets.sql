-- Usage reports read roll-ups, not raw cost events: one row per 15 minutes (UTC) and org, tenant,
-- key, model and proxy country, kept by a trigger in the same transaction as every cost event, so
-- they can never disagree with the ledger. Every time zone's offset today is a multiple of 15
-- minutes, so a report's calendar days in any zone are whole buckets. '' stands for none (key,
-- model, country) so the key is unique. `sessions` and `browsers` count objects on their first
-- cost event: summed over any buckets, each object counts once.
CREATE TABLE usage_buckets (
  bucket TEXT NOT NULL, -- 'YYYY-MM-DDTHH:MM', the start of its 15 minutes, UTC
  org_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  country TEXT NOT NULL,
  sessions INTEGER NOT NULL DEFAULT 0,
  browsers INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  proxy_used_micro_mb INTEGER NOT NULL DEFAULT 0,
  llm_cost_micros INTEGER NOT NULL DEFAULT 0,
  proxy_cost_micros INTEGER NOT NULL DEFAULT 0,
  browser_cost_micros INTEGER NOT NULL DEFAULT 0,
  total_cost_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, org_id, tenant_id, key_id, model, country)
) WITHOUT ROWID;
CREATE INDEX usage_buckets_by_org ON usage_buckets (org_id, bucket);
CREATE INDEX usage_buckets_by_tenant ON usage_buckets (tenant_id, bucket);

CREATE TRIGGER cost_events_roll_up AFTER INSERT ON cost_events BEGIN
  INSERT INTO usage_buckets (bucket, org_id, tenant_id, key_id, model, country, sessions, browsers,
    input_tokens, output_tokens, proxy_used_micro_mb, llm_cost_micros, proxy_cost_micros,
    browser_cost_micros, total_cost_micros)
  SELECT substr(NEW.at, 1, 14) || printf('%02d', CAST(substr(NEW.at, 15, 2) AS INTEGER) / 15 * 15),
    NEW.org_id, NEW.tenant_id,
    coalesce((SELECT key_id FROM resources WHERE kind = NEW.kind AND id = NEW.id), ''),
    coalesce(u.model, ''), coalesce(u.proxy_country, ''),
    NEW.kind = 'session' AND first.yes, NEW.kind = 'browser' AND first.yes,
    NEW.input_tokens, NEW.output_tokens, NEW.proxy_used_micro_mb, NEW.llm_cost_micros,
    NEW.proxy_cost_micros, NEW.browser_cost_micros, NEW.total_cost_micros
  FROM (SELECT NOT EXISTS (SELECT 1 FROM cost_events WHERE kind = NEW.kind AND id = NEW.id AND seq < NEW.seq) AS yes) first
  LEFT JOIN usage u ON u.kind = NEW.kind AND u.id = NEW.id
  WHERE true
  ON CONFLICT DO UPDATE SET
    sessions = sessions + excluded.sessions,
    browsers = browsers + excluded.browsers,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    proxy_used_micro_mb = proxy_used_micro_mb + excluded.proxy_used_micro_mb,
    llm_cost_micros = llm_cost_micros + excluded.llm_cost_micros,
    proxy_cost_micros = proxy_cost_micros + excluded.proxy_cost_micros,
    browser_cost_micros = browser_cost_micros + excluded.browser_cost_micros,
    total_cost_micros = total_cost_micros + excluded.total_cost_micros;
END;

-- The ledger so far, rolled up the same way.
INSERT INTO usage_buckets (bucket, org_id, tenant_id, key_id, model, country, sessions, browsers,
  input_tokens, output_tokens, proxy_used_micro_mb, llm_cost_micros, proxy_cost_micros,
  browser_cost_micros, total_cost_micros)
SELECT substr(e.at, 1, 14) || printf('%02d', CAST(substr(e.at, 15, 2) AS INTEGER) / 15 * 15) AS b,
  e.org_id, e.tenant_id, coalesce(r.key_id, '') AS k, coalesce(u.model, '') AS m,
  coalesce(u.proxy_country, '') AS c,
  sum(e.kind = 'session' AND e.seq = f.seq), sum(e.kind = 'browser' AND e.seq = f.seq),
  sum(e.input_tokens), sum(e.output_tokens), sum(e.proxy_used_micro_mb), sum(e.llm_cost_micros),
  sum(e.proxy_cost_micros), sum(e.browser_cost_micros), sum(e.total_cost_micros)
FROM cost_events e
JOIN (SELECT kind, id, min(seq) AS seq FROM cost_events GROUP BY kind, id) f ON f.kind = e.kind AND f.id = e.id
LEFT JOIN usage u ON u.kind = e.kind AND u.id = e.id
LEFT JOIN resources r ON r.kind = e.kind AND r.id = e.id
GROUP BY b, e.org_id, e.tenant_id, k, m, c;

-- Reports no longer scan cost events by time.
DROP INDEX cost_events_by_org;
DROP INDEX cost_events_by_time;
