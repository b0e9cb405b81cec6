/**
 * A hook's task template: `{{order.id}}` stands for that value of the delivery's JSON body, found
 * by its dotted path (array items by index, `items.0.sku`). Values are inserted as text in one
 * pass, never evaluated: a value that itself reads `{{…}}` stays as it is.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*\}\}/g;

/** The task with every placeholder filled, or the placeholders the body has no scalar value for. */
export function renderTask(template: string, body: unknown): { task: string } | { missing: string[] } {
  const missing: string[] = [];
  const task = template.replace(PLACEHOLDER, (_, path: string) => {
    const value = lookup(body, path.split("."));
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    missing.push(path);
    return "";
  });
  return missing.length > 0 ? { missing: [...new Set(missing)] } : { task };
}

/** The placeholders a template names, for the admin to see what a delivery must carry. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

function lookup(value: unknown, path: string[]): unknown {
  let at = value;
  for (const key of path) {
    // Own properties only: `__proto__` or `constructor` in a path finds nothing.
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}
