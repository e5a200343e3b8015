// Validates an OpenAPI document with an independent validator (@apidevtools/swagger-parser: schema + $ref resolution).
// Usage: node tests/interop/openapi/validate.mjs <file or http URL>...
import SwaggerParser from "@apidevtools/swagger-parser";

let failed = 0;
for (const source of process.argv.slice(2)) {
  try {
    // A served document is fetched here and handed over as an object (the parser's own HTTP resolver is not needed).
    const input = source.startsWith('http') ? await (await fetch(source, { signal: AbortSignal.timeout(10_000) })).json() : source;
    const api = await SwaggerParser.validate(input);
    const operations = Object.values(api.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    console.log(`openapi: ${source}: valid OpenAPI ${api.openapi}, ${operations} operations`);
  } catch (error) {
    failed++;
    console.log(`openapi: ${source}: INVALID: ${error.message}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
