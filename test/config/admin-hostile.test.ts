/**
 * Hostile admin config values: each is refused at load with file:line and the field named,
 * never turned into a guard that lets everything through or an audit log that rotates on
 * every line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';

describe('admin config: hostile values', () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['audit maxBytes 0', 'admin:\n  audit:\n    maxBytes: 0\n', 3, /admin\.audit\.maxBytes/],
    ['audit maxBytes negative', 'admin:\n  audit:\n    maxBytes: -1\n', 3, /admin\.audit\.maxBytes/],
    ['audit maxBytes as a string', 'admin:\n  audit:\n    maxBytes: "10MB"\n', 3, /admin\.audit\.maxBytes/],
    ['audit keep negative', 'admin:\n  audit:\n    keep: -1\n', 3, /admin\.audit\.keep/],
    ['allowedHosts wildcard', 'admin:\n  allowedHosts: ["*"]\n', 2, /admin\.allowedHosts/],
    ['allowedHosts empty name', 'admin:\n  allowedHosts: [""]\n', 2, /admin\.allowedHosts/],
    ['allowedHosts a URL', 'admin:\n  allowedHosts: ["http://evil.example/"]\n', 2, /admin\.allowedHosts/],
    ['allowedHosts with a space', 'admin:\n  allowedHosts: ["a b"]\n', 2, /admin\.allowedHosts/],
    ['allowedHosts not a list', 'admin:\n  allowedHosts: evil.example\n', 2, /admin\.allowedHosts/],
    ['unknown admin key __proto__', 'admin:\n  __proto__: { allowedHosts: ["*"] }\n', 1, /admin\.__proto__: unknown field/],
  ];
  for (const [title, text, line, field] of cases) {
    it(`refuses ${title}, naming the field`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-admin-conf-'));
      try {
        const file = path.join(dir, 'meridian.yaml');
        fs.writeFileSync(file, text);
        assert.throws(
          () => loadConfig(file, {}, {}),
          (err: Error) => {
            assert.match(err.message, field);
            if (line > 0) assert.ok(err.message.includes(`${file}:${line}:`), err.message);
            return true;
          },
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
