/**
 * The layer rule of shared/README.md, enforced by dependency-cruiser in `npm run lint` (CI runs it):
 * each folder of shared/ may import only what its row of the README's table allows. A crossing fails
 * the lint naming the rule, the importing file and the imported one. docs/decisions.md says why this
 * tool (and why its swc parser: dependency-cruiser needs TypeScript's JS API, which TypeScript 7 lacks).
 */
const DOMAIN = "^shared/domain/";
const SETTINGS = "^shared/(config|resources)\\.ts$";
const ADAPTERS = "^shared/adapters/";
const SERVICES = "^shared/services/";
const API = "^shared/api/";

/** A package (or Node built-in) outside `allowed`, imported for its values (type-only imports aside). */
const packageOtherThan = (allowed) => ({
  dependencyTypes: ["npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg", "npm-unknown", "core"],
  dependencyTypesNot: ["type-only"],
  pathNot: `^(node_modules/(${allowed.packages.join("|")})/|(${allowed.core.join("|")})$)`,
});

module.exports = {
  forbidden: [
    {
      name: "domain-is-pure",
      comment:
        "shared/domain imports only shared/domain and zod, standardwebhooks, ipaddr.js, node:crypto: no AWS SDK, Lambda or HTTP, no I/O, no config (shared/README.md)",
      severity: "error",
      from: { path: DOMAIN },
      to: { path: "^shared/", pathNot: DOMAIN },
    },
    {
      name: "domain-packages",
      comment: "shared/domain may use only zod, standardwebhooks, ipaddr.js and node:crypto",
      severity: "error",
      from: { path: DOMAIN },
      to: {
        dependencyTypes: ["npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg", "npm-unknown", "core"],
        pathNot: "^(node_modules/(zod|standardwebhooks|ipaddr\\.js)/|crypto$)",
      },
    },
    {
      name: "settings-read-the-domain-only",
      comment: "config.ts and resources.ts import only shared/domain, each other, zod and ipaddr.js",
      severity: "error",
      from: { path: SETTINGS },
      to: { path: "^shared/", pathNot: `${DOMAIN}|${SETTINGS}` },
    },
    {
      name: "settings-packages",
      severity: "error",
      from: { path: SETTINGS },
      to: packageOtherThan({ packages: ["zod", "ipaddr\\.js"], core: [] }),
    },
    {
      name: "adapters-below-services",
      comment:
        "adapters import shared/domain, the settings and other adapters; never a use case or the HTTP edge",
      severity: "error",
      from: { path: ADAPTERS },
      to: { path: "^shared/", pathNot: `${DOMAIN}|${SETTINGS}|${ADAPTERS}` },
    },
    {
      name: "services-use-ports",
      comment:
        "a use case takes its adapters as parameters typed by the ports in shared/domain/ports: it imports shared/domain, the settings and other services, never an adapter (not even its types)",
      severity: "error",
      from: { path: SERVICES },
      to: { path: "^shared/", pathNot: `${DOMAIN}|${SETTINGS}|${SERVICES}` },
    },
    {
      name: "services-packages",
      comment: "use cases use zod and node:crypto; no AWS SDK or Lambda types",
      severity: "error",
      from: { path: SERVICES },
      to: packageOtherThan({ packages: ["zod"], core: ["crypto"] }),
    },
    {
      name: "api-calls-services",
      comment:
        "the HTTP edge calls use cases; it may name an adapter's types (import type) but never call one",
      severity: "error",
      from: { path: API },
      to: { path: "^shared/", pathNot: `${DOMAIN}|${SETTINGS}|${SERVICES}|${API}|${ADAPTERS}` },
    },
    {
      name: "api-names-adapter-types-only",
      severity: "error",
      from: { path: API },
      to: { path: ADAPTERS, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "api-packages",
      severity: "error",
      from: { path: API },
      to: packageOtherThan({ packages: ["zod", "zod-openapi", "@types/aws-lambda"], core: ["crypto"] }),
    },
    {
      name: "shared-stays-inside",
      comment: "shared/ is imported by functions, handlers and tools; it imports nothing of theirs",
      severity: "error",
      from: { path: "^shared/" },
      to: { path: "^(functions|handlers|local|scripts|bench|test|infra|portal)/" },
    },
    {
      name: "operator-tools-without-emulators",
      comment:
        "scripts/ (the operator tools) never import local/ (the local stack's emulators): where a local stack listens and how its clients authenticate live in scripts/lib/local-stack.ts, which local/ reads too",
      severity: "error",
      from: { path: "^scripts/" },
      to: { path: "^local/" },
    },
    {
      name: "tools-without-tests",
      comment:
        "bench/, local/ and scripts/ must work without test/: they never import the tests' support code",
      severity: "error",
      from: { path: "^(bench|local|scripts)/" },
      to: { path: "^test/" },
    },
  ],
  options: {
    parser: "swc",
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(cdk\\.out|\\.data)/" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".json"],
    },
  },
};
