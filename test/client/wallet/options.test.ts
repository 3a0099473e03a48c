/**
 * Each role's `open` with missing or malformed options fails with a typed
 * LnMailboxError (INVALID_TYPE / INVALID_RANGE) before it reads or sends
 * anything, never with a TypeError from deep inside.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { schnorr } from '@noble/curves/secp256k1.js';
import { ErrorCode, isLnMailboxError } from '../../../base/errors.js';
import { encodeMailboxAddress } from '../../../protocol/address.js';
import { MemoryKv } from '../../../client/mailbox/kv.js';
import { HubNode, PayeeNode, PayerNode, RouterNode } from '../../../client/wallet/roles.js';

const t = suite('client/wallet: role options');
const sk = () => schnorr.utils.randomSecretKey();
const hubPk = schnorr.getPublicKey(sk());
const relay = 'http://127.0.0.1:9';
const address = encodeMailboxAddress({ publicKey: hubPk, relays: [relay] });
const base = () => ({ identityKey: sk(), relays: [relay], kv: new MemoryKv(), chain: { height: () => 800_000 } });

/** `open` must reject with an LnMailboxError of `code` (never a TypeError). */
async function refuses(open: () => Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await open();
  } catch (e) {
    assert.ok(isLnMailboxError(e), `${what}: expected LnMailboxError ${code}, got ${String(e)}`);
    assert.is((e as { code: string }).code, code, what);
    return;
  }
  assert.unreachable(`${what}: expected a rejection`);
}

type Mut = (o: Record<string, unknown>) => void;
const common: [string, Mut][] = [
  ['no identityKey', (o) => delete o.identityKey],
  ['identityKey a public key of 33 bytes', (o) => (o.identityKey = new Uint8Array(33))],
  ['identityKey a hex string', (o) => (o.identityKey = '11'.repeat(32))],
  ['no relays', (o) => delete o.relays],
  ['empty relays', (o) => (o.relays = [])],
  ['no kv', (o) => delete o.kv],
  ['kv not a store', (o) => (o.kv = {})],
  ['no chain', (o) => delete o.chain],
  ['no config', (o) => delete o.config],
  ['no channelKey', (o) => delete (o.config as Record<string, unknown>).channelKey],
];

const payer = () => ({ ...base(), config: { hubKey: hubPk, hubAddress: address, channelKey: sk() } });
const payee = () => ({
  ...base(),
  config: { address, channelKey: sk(), hubKey: hubPk, hubAddress: address, timeoutDelta: 40, invoiceTtlMs: 3_600_000 },
});
const hub = () => ({ ...base(), config: { channelKey: sk(), fee: { base: 1, ppm: 1 }, safetyMargin: 6, maxTimeoutDelta: 100 } });

const cases: [string, () => Record<string, unknown>, (o: never) => Promise<unknown>, [string, Mut, string?][]][] = [
  [
    'PayerNode',
    payer,
    (o) => PayerNode.open(o),
    [
      ['no hubKey', (o) => delete (o.config as Record<string, unknown>).hubKey],
      ['hubKey a secret key of the wrong size', (o) => ((o.config as Record<string, unknown>).hubKey = new Uint8Array(31))],
      ['no hubAddress', (o) => delete (o.config as Record<string, unknown>).hubAddress],
    ],
  ],
  [
    'PayeeNode',
    payee,
    (o) => PayeeNode.open(o),
    [
      ['no address', (o) => delete (o.config as Record<string, unknown>).address],
      ['no hubKey', (o) => delete (o.config as Record<string, unknown>).hubKey],
      ['timeoutDelta a string', (o) => ((o.config as Record<string, unknown>).timeoutDelta = '40')],
      ['negative invoiceTtlMs', (o) => ((o.config as Record<string, unknown>).invoiceTtlMs = -1), ErrorCode.INVALID_RANGE],
    ],
  ],
  [
    'HubNode',
    hub,
    (o) => HubNode.open(o),
    [
      ['no fee', (o) => delete (o.config as Record<string, unknown>).fee],
      ['fee without ppm', (o) => ((o.config as Record<string, unknown>).fee = { base: 1 })],
      ['no maxTimeoutDelta', (o) => delete (o.config as Record<string, unknown>).maxTimeoutDelta],
    ],
  ],
  ['RouterNode', hub, (o) => RouterNode.open(o), []],
];

for (const [role, make, open, own] of cases) {
  t(`${role}.open refuses bad options with a code`, async () => {
    await refuses(() => open(undefined as never), ErrorCode.INVALID_TYPE, `${role}: no options`);
    for (const [what, mut, code] of [...common, ...own]) {
      const o = make();
      mut(o);
      await refuses(() => open(o as never), code ?? ErrorCode.INVALID_TYPE, `${role}: ${what}`);
    }
  });
}

t.run();
