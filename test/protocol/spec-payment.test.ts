/**
 * Code and spec change together (SPEC section 6): every payment message's
 * field table in SPEC.md lists exactly the fields of `PaymentSchemas`, in
 * wire order, with the same kinds and type number.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { PaymentSchemas, PaymentType } from '../../protocol/payment.js';

const t = suite('protocol/spec-payment');
const spec = readFileSync(new URL('../../protocol/SPEC.md', import.meta.url), 'utf8');

t('every payment message has a field table matching its schema', () => {
  for (const [name, type] of Object.entries(PaymentType)) {
    const head = `\`${name}\` (\`0x${type.toString(16).padStart(4, '0')}\`)`;
    const at = spec.indexOf(`\n${head}\n`);
    assert.ok(at >= 0, `SPEC.md has no field table headed ${head}`);
    const rows: [string, string][] = [];
    for (const line of spec.slice(at + head.length + 2).split('\n').slice(1)) {
      if (line.trim() === '') {
        if (rows.length) break;
        continue;
      }
      const m = /^\| `([A-Za-z0-9]+)` \| `([a-z0-9]+)` \|/.exec(line);
      if (m) rows.push([m[1]!, m[2]!]);
      else if (!line.startsWith('|')) break;
    }
    const schema = PaymentSchemas[type].map(([f, k]) => [f, k]);
    assert.equal(rows, schema, `${name}: SPEC fields differ from the code`);
  }
});

t.run();
