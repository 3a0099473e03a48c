// Loads the given uvu test files into one process and runs them in order,
// the way uvu's own CLI does (uvu/run), so that suites share one summary.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// Every engine step checks its rollback journal against a copy of the whole state
// (PaymentEngine.checkSteps); processes the tests start inherit LNMB_CHECK_STEPS and do
// the same (the wallet runtime reads it). LNMB_CHECK_STEPS=0 turns it off.
process.env.LNMB_CHECK_STEPS ??= '1';
if (process.env.LNMB_CHECK_STEPS === '1') (await import('../engine/payment/engine.js')).PaymentEngine.checkSteps = true;

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
const files = process.argv.slice(2);
let idx = 0;
for (const file of files) {
  globalThis.UVU_INDEX = idx++;
  globalThis.UVU_QUEUE.push([file.replace(/^.*\/test\//, '')]);
  await import(pathToFileURL(resolve(file)).href);
}
// UVU_BAIL=1 stops at the first failing suite (the mutation runner uses it).
await uvu.exec(process.env.UVU_BAIL === '1');
// Servers or timers a suite forgot to close must not hang the run.
setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
