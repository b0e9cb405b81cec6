-- The browsers upstream listed as an agent session's own, under GET /browsers?agentSessionId= of a
-- session a tenant owns: whoever owns that session (in resources) owns its browser, for as long
-- as the session is theirs and not deleted. No POST /browsers made them, so they are not
-- resources: nothing here holds, books or counts money (a session's browser is billed in it).
CREATE TABLE agent_browsers (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  seen_at TEXT NOT NULL
);
