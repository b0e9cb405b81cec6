import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020";
import { expect, it } from "vitest";
import { app } from "../../src/app";
import { apiDocsFiles } from "../../src/openapi/static-files";

/**
 * The document against the OpenAPI 3.1 schema. This runs on Node: the validator reads its schemas
 * from disk. The document as the build writes it into public/ (scripts/build-api-docs.ts), which
 * test/openapi.test.ts holds to be exactly what the gateway serves.
 */
function builtDocument(): Record<string, unknown> {
  return JSON.parse(apiDocsFiles(app.routes)["openapi.json"] ?? "null") as Record<string, unknown>;
}

/** Every schema object in the document: components, parameters, bodies, answers and headers. */
function schemaObjects(doc: Record<string, unknown>): [string, unknown][] {
  const found: [string, unknown][] = [];
  const walk = (value: unknown, at: string) => {
    if (value === null || typeof value !== "object") return;
    for (const [key, item] of Object.entries(value)) {
      if (key === "schema") found.push([`${at}/schema`, item]);
      else walk(item, `${at}/${key}`);
    }
  };
  walk(doc.paths, "#/paths");
  const components = (doc.components as { schemas: Record<string, unknown> }).schemas;
  for (const [name, schema] of Object.entries(components))
    found.push([`#/components/schemas/${name}`, schema]);
  return found;
}

it("is a valid OpenAPI 3.1 document whose every $ref resolves", async () => {
  const result = await new Validator().validate(builtDocument());
  expect(result.errors ?? null).toBeNull();
  expect(result.valid).toBe(true);
});

it("holds only schemas that are valid JSON Schema 2020-12, the dialect of OpenAPI 3.1", async () => {
  const ajv = new Ajv2020({ strict: false });
  const invalid = schemaObjects(builtDocument())
    .filter(([, schema]) => !ajv.validateSchema(schema as object))
    .map(([at]) => `${at}: ${ajv.errorsText()}`);
  expect(invalid).toEqual([]);
});
