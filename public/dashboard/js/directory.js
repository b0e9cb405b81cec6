// Who the signed-in person can see: for the admin, every org and its tenants; for a tenant key, its
// own org and tenant (from GET /gateway/v1/me). Names come from the admin API; a tenant sees ids.
import { allPages, getJson } from "./api.js";

export async function loadDirectory(role) {
  if (role === "tenant") {
    const me = await getJson("/gateway/v1/me");
    const tenant = { id: me.tenantId, orgId: me.orgId, name: "this tenant" };
    return {
      role,
      me,
      orgs: [{ id: me.orgId, name: "this org", tenants: [tenant] }],
      tenants: [tenant],
      names: new Map([
        [me.tenantId, tenant.name],
        [me.orgId, "this org"],
      ]),
    };
  }
  const orgs = await allPages("/admin/v1/orgs");
  const withTenants = await Promise.all(
    orgs.map(async (org) => ({ ...org, tenants: await allPages(`/admin/v1/orgs/${org.id}/tenants`) })),
  );
  const tenants = withTenants.flatMap((o) => o.tenants);
  const names = new Map([...orgs, ...tenants].map((x) => [x.id, x.name]));
  return { role, orgs: withTenants, tenants, names };
}
