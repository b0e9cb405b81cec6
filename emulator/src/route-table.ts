/** Which method/path pairs an app serves, to tell 404 (no such path) from 405 (wrong method). */

export type RouteMatch = { kind: "none" } | { kind: "match" } | { kind: "method"; allow: string[] };

interface RouterLike {
  routes: { method: string; path: string }[];
}

/** A matcher over `app.routes`, compiled on first use (after every route is registered). */
export function routeMatcher(app: RouterLike): (method: string, path: string) => RouteMatch {
  let table: { method: string; pattern: RegExp }[] | null = null;
  return (method, path) => {
    // Middleware registrations (method ALL, wildcard paths) are not routes.
    table ??= app.routes
      .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => ({ method: r.method, pattern: compile(r.path) }));
    const hits = table.filter((r) => r.pattern.test(path));
    if (hits.length === 0) return { kind: "none" };
    const wanted = method === "HEAD" ? "GET" : method;
    if (hits.some((r) => r.method === wanted)) return { kind: "match" };
    return { kind: "method", allow: [...new Set(hits.map((r) => r.method))] };
  };
}

function compile(path: string): RegExp {
  const source = path
    .split("/")
    .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}$`);
}
