/** A signing secret as hooks and alert targets keep it: the current one, and the one it replaced. */
export interface RotatedSecretRow {
  secret: string;
  previous_secret: string | null;
  previous_secret_until: string | null;
}

/** The secrets that sign and verify now: the current one, and the one it replaced while its grace lasts. */
export function secretsInGrace(row: RotatedSecretRow, now: Date): string[] {
  const graced =
    row.previous_secret && row.previous_secret_until && row.previous_secret_until > now.toISOString();
  return graced ? [row.secret, row.previous_secret as string] : [row.secret];
}
