/**
 * Records that upstream listed these browsers as an agent session's own (their `agentSessionId`
 * is that session); a browser keeps the first session recorded for it.
 */
export async function recordAgentBrowsers(
  db: D1Database,
  sessionId: string,
  browserIds: string[],
  seenAt: string,
): Promise<void> {
  if (browserIds.length === 0) return;
  await db.batch(
    browserIds.map((id) =>
      db
        .prepare(
          "INSERT INTO agent_browsers (id, session_id, seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.toLowerCase(), sessionId.toLowerCase(), seenAt),
    ),
  );
}

/**
 * The agent session whose own browser this is, if the tenant owns that session and it is not
 * deleted; otherwise null, whether the browser is unknown, of another tenant's session, or of
 * none. Callers answer null with the same 404 as for an unknown id.
 */
export async function findOwnedAgentBrowser(
  db: D1Database,
  browserId: string,
  tenantId: string,
): Promise<string | null> {
  return db
    .prepare(
      `SELECT a.session_id FROM agent_browsers a
       JOIN resources r ON r.kind = 'session' AND r.id = a.session_id
       WHERE a.id = ? AND r.tenant_id = ? AND r.deleted_at IS NULL`,
    )
    .bind(browserId.toLowerCase(), tenantId)
    .first<string>("session_id");
}
