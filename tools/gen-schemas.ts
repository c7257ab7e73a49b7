/**
 * Writes schemas/*.json, the config, policy and balancer JSON Schemas for editors, from the
 * TypeBox schemas the loaders use:
 *   npm run schemas
 * Re-run it after changing src/config/schema.ts, src/steer/policy-schema.ts or src/l7/config.ts
 * (test/config/json-schemas.test.ts fails until the committed files match).
 */
import fs from 'node:fs';
import path from 'node:path';
import { renderJsonSchemas } from '../src/cli/json-schemas.js';

const dir = path.resolve('schemas');
fs.mkdirSync(dir, { recursive: true });
for (const [file, text] of renderJsonSchemas()) {
  fs.writeFileSync(path.join(dir, file), text);
  console.log(`wrote schemas/${file}`);
}
