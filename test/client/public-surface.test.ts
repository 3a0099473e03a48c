/**
 * The package's public surface, on purpose: the values each entry point
 * exports. A name joins (or leaves) the surface by changing this list, in
 * the same change that documents it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const surface = suite('public surface');

surface('ln-mailbox (the wallet SDK) exports exactly these values', async () => {
  const root = await import('../../client/index.js');
  assert.equal(Object.keys(root).sort(), [
    'ChainRejectedError',
    'ChainTip',
    'Channel',
    'ErrorCode',
    'EsploraChainSource',
    'HubNode',
    'KvNonceStore',
    'LevelKv',
    'LnMailboxError',
    'MailboxClient',
    'MemoryKv',
    'PayeeNode',
    'PayerNode',
    'PaymentType',
    'RouterNode',
    'SingleKeyWallet',
    'TERMS_RECORD',
    'Watchtower',
    'bytesToHex',
    'confirmationsAt',
    'decodeMailboxAddress',
    'decodePayment',
    'eltooTerms',
    'encodeMailboxAddress',
    'fetchRecord',
    'fundingStatus',
    'getPublicKey',
    'hexToBytes',
    'hubFee',
    'isLnMailboxError',
    'openChannelPair',
    'ptlcOf',
    'randomSecretKey',
    'scriptForAddress',
    'settlementSpec',
    'verifyReceipt',
    'verifyTerms',
  ]);
});

surface('ln-mailbox/protocol exports the receipt check and codecs (proof of payment)', async () => {
  const proto = await import('../../protocol/index.js');
  for (const n of ['verifyReceipt', 'decodeReceipt', 'encodeReceipt', 'receiptKey', 'receiptMessage', 'openTicketBatch'])
    assert.ok(n in proto, n);
});

surface('ln-mailbox/bitcoin exports the Bitcoin layer and nothing of the wallet', async () => {
  const btc = await import('../../engine/bitcoin/index.js');
  const names = Object.keys(btc);
  for (const n of ['buildUpdateTx', 'buildSettlementTx', 'updateSighash', 'ptlcOutput', 'extractPtlcSecret', 'signatureHash', 'txid']) {
    assert.ok(names.includes(n), n);
  }
  for (const n of ['MailboxClient', 'PayerNode', 'Channel']) assert.not.ok(names.includes(n), n);
});

surface('package.json maps every entry point to a built file with types', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, { types?: string; default?: string } | string>;
  };
  const want: Record<string, string> = {
    '.': 'client/index',
    './protocol': 'protocol/index',
    './bitcoin': 'engine/bitcoin/index',
    './server': 'server/index',
  };
  for (const [entry, src] of Object.entries(want)) {
    const e = pkg.exports[entry];
    assert.ok(e && typeof e === 'object', entry);
    assert.is(e.default, `./dist/${src}.js`);
    assert.is(e.types, `./dist/${src}.d.ts`);
  }
});

surface.run();
