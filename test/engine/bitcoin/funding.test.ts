import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256 } from '@noble/hashes/sha2.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { bytesToHex, utf8 } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import {
  checkChannelFunding,
  checkFundingTx,
  decodePsbt,
  encodePsbt,
  extractPsbtTx,
  fundingOutput,
  fundingPsbt,
  p2trScript,
  psbtFromTx,
  psbtTx,
  txid,
  type BitcoinTx,
  type EltooTerms,
} from '../../../engine/bitcoin/index.js';
import { throwsCode } from '../../helpers.js';

const t = suite('bitcoin/funding: the funding PSBT and the funding check');

const sk = (label: string) => sha256(utf8(`ln-mailbox/test/funding/${label}`));
const terms: EltooTerms = {
  keys: { a: getPublicKey(sk('A')), b: getPublicKey(sk('S')) },
  fundingAmount: 250_000,
  updateFee: 500,
  csvDelay: 144,
  payout: { a: p2trScript(getPublicKey(sk('A-pay'))), b: p2trScript(getPublicKey(sk('S-pay'))) },
};
const out = fundingOutput(terms);
const walletScript = p2trScript(getPublicKey(sk('wallet')));

/** A funding transaction as a wallet would return it: one signed input, the channel output at `vout`, change. */
function fundingTx(
  outputs = [
    { amount: out.amount, script: out.scriptPubKey },
    { amount: 40_000n, script: walletScript },
  ],
): BitcoinTx {
  return {
    version: 2,
    lockTime: 0,
    inputs: [{ txid: sk('coin'), vout: 1, sequence: 0xffff_fffd, witness: [new Uint8Array(64).fill(9)] }],
    outputs,
  };
}

t('the funding PSBT has no input and exactly the channel output', () => {
  const p = decodePsbt(fundingPsbt(terms));
  assert.is(p.version, 2);
  assert.is(p.lockTime, 0);
  assert.equal(p.inputs, []);
  assert.equal(p.outputs, [{ amount: 250_000n, script: out.scriptPubKey }]);
});

t('PSBT round trip keeps outpoints, sequences, witness UTXOs and final witnesses; extract needs every input finalized', () => {
  const psbt = {
    version: 2,
    lockTime: 500_000_007,
    inputs: [
      {
        txid: sk('x'),
        vout: 3,
        sequence: 0xffff_fffe,
        prevout: { amount: 9_000n, scriptPubKey: walletScript },
        finalWitness: [new Uint8Array(65).fill(1), utf8('leaf')],
      },
      { txid: sk('y'), vout: 0, sequence: 7, prevout: null, finalWitness: null },
    ],
    outputs: [{ amount: 8_000n, script: out.scriptPubKey }],
  };
  const back = decodePsbt(encodePsbt(psbt));
  assert.equal(back, psbt);
  throwsCode(() => extractPsbtTx(encodePsbt(psbt)), ErrorCode.FUNDING_INVALID);
  const done = { ...psbt, inputs: [psbt.inputs[0]!] };
  assert.equal(extractPsbtTx(encodePsbt(done)), psbtTx(done));
  throwsCode(() => decodePsbt(utf8('psbt\xff not really')), ErrorCode.FUNDING_INVALID);
});

t('psbtFromTx: signed inputs become finalized, unsigned ones stay open, each with its witness UTXO', () => {
  const tx = fundingTx();
  const two = { ...tx, inputs: [...tx.inputs, { txid: sk('fee'), vout: 2, sequence: 0xffff_fffe, witness: [] }] };
  const prevouts = [
    { amount: 300_000n, scriptPubKey: walletScript },
    { amount: 5_000n, scriptPubKey: walletScript },
  ];
  const p = decodePsbt(psbtFromTx(two, prevouts));
  assert.equal(
    p.inputs.map((i) => [i.finalWitness?.length ?? null, i.prevout?.amount]),
    [
      [1, 300_000n],
      [null, 5_000n],
    ],
  );
  assert.equal(psbtTx(p), two);
  throwsCode(() => psbtFromTx(two, prevouts.slice(1)), ErrorCode.INVALID_LENGTH);
});

t('accepts exactly the agreed output, wherever it sits, and returns its outpoint', () => {
  const tx = fundingTx();
  assert.equal(checkChannelFunding(tx, terms).outpoint, { txid: txid(tx), vout: 0 });
  const swapped = fundingTx([
    { amount: 40_000n, script: walletScript },
    { amount: out.amount, script: out.scriptPubKey },
  ]);
  const r = checkFundingTx(swapped, out.scriptPubKey, 250_000);
  assert.is(bytesToHex(r.outpoint.txid), bytesToHex(txid(swapped)));
  assert.is(r.outpoint.vout, 1);
});

t('refuses a funding transaction that does not pay the agreed output', () => {
  const pay = (amount: bigint, script = out.scriptPubKey) => ({ amount, script });
  // Wrong amount (one sat short, one sat over).
  throwsCode(() => checkChannelFunding(fundingTx([pay(249_999n)]), terms), ErrorCode.FUNDING_INVALID, 'short');
  throwsCode(() => checkChannelFunding(fundingTx([pay(250_001n)]), terms), ErrorCode.FUNDING_INVALID, 'over');
  // Wrong script: another channel's output (other keys), or the funder's own.
  const other = fundingOutput({ ...terms, keys: { a: terms.keys.a, b: getPublicKey(sk('mallory')) } });
  throwsCode(() => checkChannelFunding(fundingTx([pay(250_000n, other.scriptPubKey)]), terms), ErrorCode.FUNDING_INVALID, 'other keys');
  throwsCode(() => checkChannelFunding(fundingTx([pay(250_000n, walletScript)]), terms), ErrorCode.FUNDING_INVALID, 'missing');
  // Two outputs with the channel script: ambiguous, even if only one has the amount.
  throwsCode(() => checkChannelFunding(fundingTx([pay(250_000n), pay(250_000n)]), terms), ErrorCode.FUNDING_INVALID, 'twice');
  throwsCode(() => checkChannelFunding(fundingTx([pay(250_000n), pay(1_000n)]), terms), ErrorCode.FUNDING_INVALID, 'decoy');
  // Not fully signed, or no input at all.
  const unsigned = fundingTx();
  throwsCode(
    () => checkChannelFunding({ ...unsigned, inputs: [{ ...unsigned.inputs[0]!, witness: [] }] }, terms),
    ErrorCode.FUNDING_INVALID,
    'unsigned',
  );
  throwsCode(() => checkChannelFunding({ ...unsigned, inputs: [] }, terms), ErrorCode.FUNDING_INVALID, 'no input');
  throwsCode(() => checkFundingTx(fundingTx(), out.scriptPubKey, 0), ErrorCode.FUNDING_INVALID, 'zero amount');
});

t.run();
