/**
 * Code and spec change together (SPEC section 6, in `protocol/spec/payment.md`):
 * the message table of 6.3 names exactly the messages of `PaymentType`, with
 * the same type numbers, and every payment message's field table lists
 * exactly the fields of `PaymentSchemas`, in wire order, with the same kinds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { PaymentSchemas, PaymentType } from '../../protocol/payment.js';

const t = suite('protocol/spec-payment');
const spec = readFileSync(new URL('../../protocol/spec/payment.md', import.meta.url), 'utf8');

/** The text of one `### 6.x` subsection, heading included. */
function subsection(number: string): string {
  const begin = spec.indexOf(`\n### ${number} `);
  assert.ok(begin >= 0, `payment.md has no section ${number}`);
  const end = spec.indexOf('\n### ', begin + 1);
  return spec.slice(begin, end < 0 ? undefined : end);
}

t('the message table of 6.3 names every PaymentType, with its type number, and nothing else', () => {
  const table: [string, number][] = [];
  for (const line of subsection('6.3').split('\n')) {
    const m = /^\| `0x([0-9a-f]{4})` \| `([A-Z_]+)` \|/.exec(line);
    if (m) table.push([m[2]!, parseInt(m[1]!, 16)]);
  }
  const code = Object.entries(PaymentType).sort((a, b) => a[1] - b[1]);
  assert.equal(table, code, 'SPEC 6.3 message table differs from PaymentType');
});

t('every payment message has a field table matching its schema', () => {
  for (const [name, type] of Object.entries(PaymentType)) {
    const head = `\`${name}\` (\`0x${type.toString(16).padStart(4, '0')}\`)`;
    const at = spec.indexOf(`\n${head}\n`);
    assert.ok(at >= 0, `payment.md has no field table headed ${head}`);
    const rows: [string, string][] = [];
    for (const line of spec
      .slice(at + head.length + 2)
      .split('\n')
      .slice(1)) {
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
