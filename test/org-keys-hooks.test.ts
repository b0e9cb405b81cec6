import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, adminPost, countRoundTrips, expectJson, gateway } from "./helpers";

const asAdmin = (path: string, init: RequestInit = {}) =>
  gateway(path, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });

const sendAdmin = (method: string, path: string, body?: unknown) =>
  asAdmin(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

interface Key {
  id: string;
  tenantId: string;
  prefix: string;
  expiresAt: string | null;
  revokedAt: string | null;
}
interface Hook {
  id: string;
  tenantId: string;
  suspended: boolean;
}
interface Page<Item> {
  items: Item[];
  totalItems: number;
  pageNumber: number;
  pageSize: number;
}
type KeysPage = Page<{ tenantId: string; name: string; keys: Key[] }>;
type HooksPage = Page<{ tenantId: string; name: string; hooks: Hook[] }>;
/** A page of either list, read by the tests that run on both. */
type EitherPage = Page<{ tenantId: string; name: string } & Partial<Record<"keys" | "hooks", unknown[]>>>;

const newOrg = async () =>
  (await adminPost<{ id: string }>("/admin/v1/orgs", { name: `org-${crypto.randomUUID()}` })).id;
const newTenantOf = async (orgId: string, name: string) =>
  (await adminPost<{ id: string }>(`/admin/v1/orgs/${orgId}/tenants`, { name })).id;
const issueKey = (tenantId: string, body: Record<string, unknown> = {}) =>
  adminPost<{ id: string; key: string }>(`/admin/v1/tenants/${tenantId}/keys`, { name: "k", ...body });
const newHook = (tenantId: string, body: Record<string, unknown> = {}) =>
  adminPost<{ id: string; secret: string }>(`/admin/v1/tenants/${tenantId}/hooks`, {
    name: "h",
    task: "Look at {{order}}",
    ...body,
  });

/** The text of a page (checked against the OpenAPI document by `gateway`) and its JSON. */
async function orgPage<T>(
  orgId: string,
  list: "keys" | "hooks",
  query = "",
): Promise<{ text: string; page: T }> {
  const text = JSON.stringify(
    await expectJson(await asAdmin(`/admin/v1/orgs/${orgId}/${list}${query}`), 200),
  );
  return { text, page: JSON.parse(text) as T };
}
const orgKeys = async (orgId: string, query = "") => (await orgPage<KeysPage>(orgId, "keys", query)).page;
const orgHooks = async (orgId: string, query = "") => (await orgPage<HooksPage>(orgId, "hooks", query)).page;
const tenantKeys = async (tenantId: string) =>
  (await expectJson<{ keys: Key[] }>(await asAdmin(`/admin/v1/tenants/${tenantId}/keys`), 200)).keys;
const tenantHooks = async (tenantId: string) =>
  (await expectJson<{ hooks: Hook[] }>(await asAdmin(`/admin/v1/tenants/${tenantId}/hooks`), 200)).hooks;

describe("GET /admin/v1/orgs/{orgId}/keys", () => {
  it("answers for each tenant exactly what GET /admin/v1/tenants/{id}/keys does, revoked and expired keys too, never a key", async () => {
    const orgId = await newOrg();
    const a = await newTenantOf(orgId, "a several keys");
    const b = await newTenantOf(orgId, "b no keys");
    const c = await newTenantOf(orgId, "c one key");
    const gone = await newTenantOf(orgId, "d deleted");
    const issued = [
      await issueKey(a, { name: "ci", scope: "read-only", expiresAt: "2099-01-01T00:00:00Z" }),
      await issueKey(a, { name: "to revoke" }),
      await issueKey(a, { name: "to expire" }),
      await issueKey(c),
      await issueKey(gone),
    ];
    const [, revoked, expiring] = issued as [unknown, { id: string }, { id: string }];
    await expectJson(await sendAdmin("DELETE", `/admin/v1/keys/${revoked.id}`), 204);
    // A rotation with no grace: the old key has expired, the new one is the tenant's too.
    issued.push(
      await expectJson(
        await sendAdmin("POST", `/admin/v1/keys/${expiring.id}/rotate`, { graceSeconds: 0 }),
        201,
      ),
    );
    await expectJson(await sendAdmin("DELETE", `/admin/v1/tenants/${gone}`), 204);

    const { text, page } = await orgPage<KeysPage>(orgId, "keys");
    expect(page).toMatchObject({ totalItems: 3, pageNumber: 1, pageSize: 10 });
    expect(page.items.map((i) => [i.tenantId, i.name])).toEqual([
      [a, "a several keys"],
      [b, "b no keys"],
      [c, "c one key"],
    ]);
    for (const item of page.items) expect(item.keys, item.name).toEqual(await tenantKeys(item.tenantId));

    // What was compared is not empty, and shows the revoked and the expired key as they are.
    const ofA = page.items[0]?.keys ?? [];
    expect(ofA).toHaveLength(4);
    expect(ofA.find((k) => k.id === revoked.id)?.revokedAt).not.toBeNull();
    const expired = ofA.find((k) => k.id === expiring.id);
    expect(expired?.revokedAt).toBeNull();
    expect(Date.parse(expired?.expiresAt ?? "")).toBeLessThanOrEqual(Date.now());
    expect(page.items[1]?.keys).toEqual([]);
    expect(page.items[2]?.keys.map((k) => k.tenantId)).toEqual([c]);
    // Never the key (nor its hash), only its prefix.
    for (const { key } of issued as { key: string }[]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(0, 20));
    }
    const fields = [
      "createdAt",
      "expiresAt",
      "id",
      "lastUsedAt",
      "name",
      "prefix",
      "revokedAt",
      "scope",
      "tenantId",
    ];
    for (const k of page.items.flatMap((i) => i.keys)) expect(Object.keys(k).sort()).toEqual(fields);
  });
});

describe("GET /admin/v1/orgs/{orgId}/hooks", () => {
  it("answers for each tenant exactly what GET /admin/v1/tenants/{id}/hooks does, suspended hooks too, never a secret", async () => {
    const orgId = await newOrg();
    const a = await newTenantOf(orgId, "a two hooks");
    const b = await newTenantOf(orgId, "b none left");
    const c = await newTenantOf(orgId, "c suspended hook");
    const made = [
      await newHook(a, { options: { maxCostUsd: "0.5" }, callbackUrl: "https://example.com/done" }),
      await newHook(a, { name: "second" }),
      await newHook(b),
      await newHook(c),
    ];
    const [, , deleted, suspended] = made as [unknown, unknown, { id: string }, { id: string }];
    await expectJson(await sendAdmin("DELETE", `/admin/v1/hooks/${deleted.id}`), 204);
    await expectJson(await sendAdmin("PATCH", `/admin/v1/hooks/${suspended.id}`, { suspended: true }), 200);
    // A rotated secret and the one it replaced (still verifying) are both secrets.
    const rotated = await expectJson<{ secret: string }>(
      await sendAdmin("POST", `/admin/v1/hooks/${made[0]?.id}/rotate-secret`),
      200,
    );

    const { text, page } = await orgPage<HooksPage>(orgId, "hooks");
    expect(page).toMatchObject({ totalItems: 3, pageNumber: 1, pageSize: 10 });
    expect(page.items.map((i) => i.tenantId)).toEqual([a, b, c]);
    for (const item of page.items) expect(item.hooks, item.name).toEqual(await tenantHooks(item.tenantId));

    expect(page.items[0]?.hooks.map((h) => h.id)).toEqual([made[1]?.id, made[0]?.id]);
    expect(page.items[0]?.hooks[1]).toMatchObject({
      options: { maxCostUsd: "0.5" },
      callbackUrl: "https://example.com/done",
      orgId,
    });
    expect(page.items[1]?.hooks).toEqual([]);
    expect(page.items[2]?.hooks).toMatchObject([{ id: suspended.id, suspended: true }]);
    for (const secret of [...made.map((h) => h.secret), rotated.secret]) {
      expect(secret).toMatch(/^whsec_/);
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain("whsec_");
    const fields = [
      "callbackUrl",
      "createdAt",
      "id",
      "name",
      "options",
      "orgId",
      "suspended",
      "task",
      "tenantId",
      "updatedAt",
    ];
    for (const h of page.items.flatMap((i) => i.hooks)) expect(Object.keys(h).sort()).toEqual(fields);
  });
});

describe("GET /admin/v1/orgs/{orgId}/keys and …/hooks", () => {
  const lists = ["keys", "hooks"] as const;

  it("page as the tenant list does: by name, totalItems, a second page, the name filter and the page size bounds", async () => {
    const orgId = await newOrg();
    const c = await newTenantOf(orgId, "Charlie");
    const a = await newTenantOf(orgId, "alpha");
    const b = await newTenantOf(orgId, "Bravo");
    for (const t of [a, b, c]) {
      await issueKey(t);
      await newHook(t);
    }
    const tenantList = await expectJson<{ items: { id: string }[] }>(
      await asAdmin(`/admin/v1/orgs/${orgId}/tenants`),
      200,
    );
    expect(tenantList.items.map((t) => t.id)).toEqual([a, b, c]);
    for (const list of lists) {
      const first = (await orgPage<EitherPage>(orgId, list, "?pageSize=2")).page;
      expect(first, list).toMatchObject({ totalItems: 3, pageNumber: 1, pageSize: 2 });
      expect(
        first.items.map((i) => i.tenantId),
        list,
      ).toEqual([a, b]);
      const second = (await orgPage<EitherPage>(orgId, list, "?pageSize=2&pageNumber=2")).page;
      expect(second, list).toMatchObject({ totalItems: 3, pageNumber: 2, pageSize: 2 });
      expect(
        second.items.map((i) => i.tenantId),
        list,
      ).toEqual([c]);
      expect(second.items[0]?.[list], list).toHaveLength(1);
      expect((await orgPage<EitherPage>(orgId, list, "?pageSize=2&pageNumber=3")).page.items, list).toEqual(
        [],
      );

      const named = (await orgPage<EitherPage>(orgId, list, "?name=RAV")).page;
      expect(named, list).toMatchObject({ totalItems: 1 });
      expect(
        named.items.map((i) => i.tenantId),
        list,
      ).toEqual([b]);

      for (const query of ["?pageSize=101", "?pageSize=0", "?pageNumber=0", `?name=${"x".repeat(201)}`]) {
        const res = await asAdmin(`/admin/v1/orgs/${orgId}/${list}${query}`);
        expect(await expectJson(res, 422), `${list}${query}`).toMatchObject({ code: "validation_error" });
      }
    }
    expect((await orgKeys(orgId)).items[2]?.keys).toEqual(await tenantKeys(c));
    expect((await orgHooks(orgId)).items[2]?.hooks).toEqual(await tenantHooks(c));
  });

  it("show one org's tenants only, never another org's keys or hooks", async () => {
    const mine = await newOrg();
    const theirs = await newOrg();
    const own = await newTenantOf(mine, "same name");
    const other = await newTenantOf(theirs, "same name");
    const ownKey = await issueKey(own);
    const otherKey = await issueKey(other);
    const ownHook = await newHook(own);
    const otherHook = await newHook(other);
    for (const list of lists) {
      const { text, page } = await orgPage<EitherPage>(mine, list);
      expect(
        page.items.map((i) => i.tenantId),
        list,
      ).toEqual([own]);
      expect(text, list).toContain(list === "keys" ? ownKey.id : ownHook.id);
      for (const id of [other, otherKey.id, otherHook.id]) expect(text, list).not.toContain(id);
      const { page: theirPage } = await orgPage<EitherPage>(theirs, list);
      expect(
        theirPage.items.map((i) => i.tenantId),
        list,
      ).toEqual([other]);
    }
  });

  it("answer 404 in the error shape for an org that is not there or was deleted", async () => {
    const deleted = await newOrg();
    await expectJson(await sendAdmin("DELETE", `/admin/v1/orgs/${deleted}`), 204);
    for (const list of lists) {
      for (const orgId of [crypto.randomUUID(), deleted]) {
        const res = await asAdmin(`/admin/v1/orgs/${orgId}/${list}`);
        const body = await expectJson<Record<string, unknown>>(res, 404);
        expect(Object.keys(body).sort(), list).toEqual(["code", "detail", "requestId"]);
        expect(body, list).toMatchObject({ code: "not_found", detail: "Org not found" });
      }
      const malformed = await asAdmin(`/admin/v1/orgs/not-an-id/${list}`);
      expect(await expectJson(malformed, 422), list).toMatchObject({ code: "validation_error" });
    }
  });

  it("refuse a missing or wrong admin token, and a tenant's key, with 401", async () => {
    const orgId = await newOrg();
    const t = await newTenantOf(orgId, "asks for all");
    const { key } = await issueKey(t);
    const attempts: Record<string, string>[] = [
      {},
      { Authorization: "Bearer not-the-admin-token" },
      { Authorization: `Bearer ${key}` },
      { "X-Browser-Use-API-Key": key },
    ];
    for (const list of lists) {
      for (const headers of attempts) {
        const res = await gateway(`/admin/v1/orgs/${orgId}/${list}`, { headers });
        expect(await expectJson(res, 401), `${list} ${JSON.stringify(headers)}`).toMatchObject({
          code: "admin_unauthorized",
        });
      }
    }
  });

  it("read a page in one D1 round trip of the same statements, for 2 tenants as for 12", async () => {
    const trips = async (list: "keys" | "hooks", tenants: number) => {
      const orgId = await newOrg();
      for (let i = 0; i < tenants; i++) {
        const t = await newTenantOf(orgId, `t${i}`);
        // Every other tenant with two of them, the rest with none.
        if (i % 2) {
          for (let j = 0; j < 2; j++) await (list === "keys" ? issueKey(t) : newHook(t));
        }
      }
      const { res, onPath, after } = await countRoundTrips(`/admin/v1/orgs/${orgId}/${list}?pageSize=100`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const page = await expectJson<EitherPage>(res, 200);
      expect(page.items).toHaveLength(tenants);
      expect(page.items.flatMap((i) => i[list] ?? [])).toHaveLength(Math.floor(tenants / 2) * 2);
      expect(after).toEqual([]);
      return onPath;
    };
    for (const list of lists) {
      const two = await trips(list, 2);
      const twelve = await trips(list, 12);
      expect(two, list).toHaveLength(1);
      expect(two[0], list).toHaveLength(4);
      expect(twelve, list).toEqual(two);
    }
  });
});
