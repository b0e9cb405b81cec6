/** What the gateway's own answers and the events it posts share. */
import * as z from "zod/mini";

/** A moment the gateway recorded, as `Date.toISOString()` writes it. */
export const Timestamp = z.iso.datetime({ offset: true });
