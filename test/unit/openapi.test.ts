/**
 * The OpenAPI document (PRODUCT §5, `GET /openapi.json`, docs/openapi.json): a valid OpenAPI 3.1
 * document that lists every route of §5 with its success status, its error answers in the §5 shape
 * and the security schemes — and the committed copy is the generated one.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument, renderOpenApiDocument } from "#shared/api/openapi.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

// PRODUCT §5's route table, written out here rather than read from the code, so a route that goes
// missing from the code fails this test. Error statuses: what each route can answer besides 500.
const SECTION_5_ROUTES: { method: string; path: string; success: string; errors: string[] }[] = [
  { method: "get", path: "/v1/event-types", success: "200", errors: ["401", "429"] },
  // PRODUCT §12: one type of the catalogue with its schema and example.
  { method: "get", path: "/v1/event-types/{type}", success: "200", errors: ["400", "401", "404", "429"] },
  {
    method: "post",
    path: "/v1/subscriptions",
    success: "201",
    errors: ["400", "401", "409", "413", "415", "429"],
  },
  { method: "get", path: "/v1/subscriptions", success: "200", errors: ["400", "401", "429"] },
  // PRODUCT §11 (issue 21): the activeflow destinations, read-only.
  { method: "get", path: "/v1/activeflow-destinations", success: "200", errors: ["400", "401", "429"] },
  { method: "get", path: "/v1/subscriptions/{id}", success: "200", errors: ["400", "401", "404", "429"] },
  {
    method: "patch",
    path: "/v1/subscriptions/{id}",
    success: "200",
    errors: ["400", "401", "404", "413", "415", "429"],
  },
  { method: "delete", path: "/v1/subscriptions/{id}", success: "204", errors: ["400", "401", "404", "429"] },
  {
    method: "get",
    path: "/v1/subscriptions/{id}/secret",
    success: "200",
    errors: ["400", "401", "404", "429"],
  },
  {
    method: "post",
    path: "/v1/subscriptions/{id}/secret/rotate",
    success: "200",
    errors: ["400", "401", "404", "429"],
  },
  {
    method: "post",
    path: "/v1/subscriptions/{id}/test",
    success: "202",
    errors: ["400", "401", "404", "409", "429"],
  },
  {
    method: "get",
    path: "/v1/subscriptions/{id}/deliveries",
    success: "200",
    errors: ["400", "401", "404", "429"],
  },
  { method: "get", path: "/v1/deliveries/{id}", success: "200", errors: ["400", "401", "404", "429"] },
  {
    method: "post",
    path: "/v1/deliveries/{id}/retry",
    success: "202",
    errors: ["400", "401", "404", "409", "429"],
  },
  {
    method: "post",
    path: "/v1/subscriptions/{id}/recover",
    success: "202",
    errors: ["400", "401", "404", "409", "413", "415", "429"],
  },
  {
    method: "get",
    path: "/v1/subscriptions/{id}/stats",
    success: "200",
    errors: ["400", "401", "404", "429"],
  },
  { method: "get", path: "/v1/events/{event_id}/deliveries", success: "200", errors: ["400", "401", "429"] },
  { method: "post", path: "/v1/portal/sessions", success: "201", errors: ["400", "401", "413", "415"] },
  { method: "get", path: "/openapi.json", success: "200", errors: [] },
];

/** Routes that take no access key: the document itself, and the portal-link exchange (its token is the credential). */
const PUBLIC_PATHS = new Set(["/openapi.json", "/v1/portal/sessions"]);

interface Operation {
  operationId?: string;
  security?: unknown[];
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
}

type Document = {
  openapi: string;
  security: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    securitySchemes: Record<string, Record<string, string>>;
    schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
  };
};

const document = buildOpenApiDocument() as unknown as Document;

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // The validator does refuse a broken document (so the check above means something).
    const { info: _info, ...withoutInfo } = document as unknown as Record<string, unknown>;
    expect((await new Validator().validate(withoutInfo)).valid).toBe(false);
  });

  it("lists exactly the routes of §5, each with its success status", () => {
    const listed = Object.entries(document.paths).flatMap(([routePath, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${routePath}`),
    );
    expect(listed.sort()).toEqual(SECTION_5_ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort());
    for (const route of SECTION_5_ROUTES) {
      const operation = document.paths[route.path]?.[route.method] as Operation;
      expect(operation.responses[route.success], `${route.method} ${route.path}`).toBeDefined();
      expect(operation.operationId).toMatch(/^[a-z][A-Za-z]+$/);
    }
    const operationIds = SECTION_5_ROUTES.map((r) => document.paths[r.path]?.[r.method]?.operationId);
    expect(new Set(operationIds).size).toBe(operationIds.length);
  });

  it("documents every error answer of every route in the §5 error shape", () => {
    const errorSchema = document.components.schemas.Error;
    expect(errorSchema?.required).toEqual(["error"]);
    for (const route of SECTION_5_ROUTES) {
      const operation = document.paths[route.path]?.[route.method] as Operation;
      const errors = Object.keys(operation.responses).filter((status) => Number(status) >= 400);
      for (const status of [...route.errors, "500"]) {
        expect(errors, `${route.method} ${route.path}`).toContain(status);
      }
      for (const status of errors) {
        const content = operation.responses[status]?.content?.["application/json"];
        expect(content?.schema.$ref, `${route.method} ${route.path} ${status}`).toBe(
          "#/components/schemas/Error",
        );
      }
    }
  });

  it("declares both ways of sending a key, required everywhere but on the public routes", () => {
    expect(document.components.securitySchemes).toMatchObject({
      bearerAuth: { type: "http", scheme: "bearer" },
      accessKeyQuery: { type: "apiKey", in: "query", name: "accesskey" },
    });
    expect(document.security).toEqual([{ bearerAuth: [] }, { accessKeyQuery: [] }]);
    for (const route of SECTION_5_ROUTES) {
      const operation = document.paths[route.path]?.[route.method] as Operation;
      if (PUBLIC_PATHS.has(route.path)) expect(operation.security).toEqual([]);
      else expect(operation.security).toBeUndefined();
    }
  });

  it("describes request bodies with the schemas the API validates with", () => {
    const create = document.paths["/v1/subscriptions"]?.post?.requestBody;
    expect(create?.required).toBe(true);
    const ref = (create?.content["application/json"]?.schema as { $ref?: string } | undefined)?.$ref ?? "";
    const schema = document.components.schemas[ref.replace("#/components/schemas/", "")];
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(
      ["activeflow_id", "description", "event_types", "filter", "headers", "method", "status", "url"].sort(),
    );
    expect(schema?.required?.sort()).toEqual(["event_types", "url"]);
  });
});

describe("docs/openapi.json", () => {
  it("is the generated document (run `npm run openapi` after changing the API)", async () => {
    const committed = await readFile(path.join(REPO_ROOT, "docs", "openapi.json"), "utf8");
    expect(committed).toBe(renderOpenApiDocument());
    expect(committed.endsWith("}\n")).toBe(true);
  });
});

/** `npm run --silent <script> -- <args>` in the repository, as CI runs it. */
function npmRun(script: string, args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", script, "--", ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stderr }));
  });
}

describe("npm run openapi / openapi:check", () => {
  it("--check fails on a stale or missing file, the generator fixes it, then --check passes", {
    timeout: 60_000,
  }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "openapi-"));
    try {
      const file = path.join(dir, "openapi.json");
      const missing = await npmRun("openapi:check", ["--file", file]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/is stale: it does not exist/);

      await writeFile(file, renderOpenApiDocument().replace('"3.1.0"', '"3.0.0"'));
      const stale = await npmRun("openapi:check", ["--file", file]);
      expect(stale.code).toBe(1);
      expect(stale.stderr).toMatch(/is stale: it differs from the code \(line 2: expected .*3\.1\.0/);
      expect(stale.stderr).toContain("npm run openapi");

      const written = await npmRun("openapi", ["--file", file]);
      expect(written.code, written.stderr).toBe(0);
      expect(await readFile(file, "utf8")).toBe(renderOpenApiDocument());
      expect((await npmRun("openapi:check", ["--file", file])).code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
