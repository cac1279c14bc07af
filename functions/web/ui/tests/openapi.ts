// Every answer the browser tests read from the API is checked against the OpenAPI document the
// page's client is typed from: a field the document promises and the API does not send fails
// here, not in front of a user.
import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type Doc = { paths: Record<string, Record<string, any>>; components: unknown };

const doc: Doc = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../query/openapi.json", import.meta.url)), "utf8"),
);
const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/** The path template of `path` (the one with the most literal segments when several match). */
function template(path: string): string {
  const segments = path.split("?")[0]!.split("/");
  const matches = Object.keys(doc.paths).filter((t) => {
    const parts = t.split("/");
    return parts.length === segments.length && parts.every((p, i) => p.startsWith("{") || p === segments[i]);
  });
  const literal = (t: string) => t.split("/").filter((p) => !p.startsWith("{")).length;
  const best = matches.sort((a, b) => literal(b) - literal(a))[0];
  if (!best) throw new Error(`${path}: no route of openapi.json`);
  return best;
}

/** Throws when `body`, the 200 answer of GET `path`, breaks its schema. */
export function checkAnswer(path: string, body: unknown): void {
  const t = template(path);
  let validate = compiled.get(t);
  if (!validate) {
    const schema = doc.paths[t]?.get?.responses?.["200"]?.content?.["application/json"]?.schema;
    if (!schema) throw new Error(`${t}: no JSON schema for 200`);
    validate = ajv.compile({ ...schema, components: doc.components });
    compiled.set(t, validate);
  }
  if (!validate(body)) {
    throw new Error(`GET ${path} does not match openapi.json: ${ajv.errorsText(validate.errors)}`);
  }
}
