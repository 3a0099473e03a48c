/**
 * The payment's signatures are real: after the asynchronous payment, the
 * hub can enforce the payer's state on chain against an old state, and the
 * payee can claim its PTLC on chain with t (the hub then learns t from the
 * chain). Checked with the test chain model, which verifies every witness
 * against the real BIP118 sighash and enforces CLTV/CSV.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../../base/bytes.js';
import { tweakSecret, untweakSecret } from '../../../crypto/tweak.js';
import { adaptorPoint } from '../../../crypto/adaptor.js';
import { PaymentType } from '../../../protocol/payment.js';
import { buildSettlementTx, fundingOutput } from '../../../engine/bitcoin/eltoo.js';
import { buildClaimTx, completeClaimSignature, extractPtlcSecret, signClaim } from '../../../engine/bitcoin/ptlc-output.js';
import { txid } from '../../../engine/bitcoin/transaction.js';
import type { StateRecord } from '../../../engine/channel/channel.js';
import { eltooTerms, ptlcOf, ptlcSecretKey, settlementSpec } from '../../../engine/channel/onchain.js';
import { ChainModel } from '../bitcoin/chain-model.js';
import { at, enforceLatestOverOld, out0, publishUpdate, sigs } from './chain.js';
import { makeWorld, post, run, hex, ticketFor } from './fixture.js';
import { hubFee } from '../../../engine/payment/fee.js';

const t = suite('payment/enforce');
const clone = (r: StateRecord): StateRecord => structuredClone(r);

t('S enforces the bought state n over an old state A publishes; B claims its PTLC on chain with t', async () => {
  const w = await makeWorld();
  const hubAS = w.hub.peers.get(hex(w.asParams.channelId))!.channel;
  const old = clone(hubAS.enforceable); // state 0, fully signed
  const { offerId, step } = await w.payer.pay(
    {
      payee: { publicKey: w.B.idPk, address: w.B.address },
      ticket: await ticketFor(w.payee),
      amount: 50_000,
      fee: hubFee(50_000, w.hub.config.fee),
      expiry: w.ctx.now + 3_600_000,
    },
    w.ctx,
  );
  post(w, 'A', step);
  await run(w, ['A', 'S']);
  // invoice → PTLC_ADD → PTLC_ACCEPT → PTLC_COMMIT → (B promotes state m, sends PTLC_FULFILL)
  for (const who of ['B', 'S', 'B', 'S', 'B'] as const) await run(w, [who]);
  const withPtlc = clone(w.payee.channel.enforceable); // B's fully signed state m with the PTLC
  assert.is(withPtlc.state.ptlcs.length, 1);
  const presig = hexToBytes(w.payee.payments.get(offerId)!.claimPresig!, 65);
  await run(w);
  assert.is(w.payer.payments.get(offerId)!.status, 'completed');
  // t = s_B, B's receipt signature's s (SPEC 6.16), as the payer received it.
  const tSecret = hexToBytes(w.payer.payments.get(offerId)!.receipt!.secret, 32);
  // The PTLC is locked to T + r·G (decorrelation); B's on-chain claim reveals t + r.
  const tweak = hexToBytes(w.payee.payments.get(offerId)!.tweak!, 32);
  const hopSecret = tweakSecret(tSecret, tweak);

  // --- A–S: A publishes state 0; S answers with state 1 (A's signature bought from B) ---
  const chain = new ChainModel();
  assert.is(hubAS.enforceable.state.n, 1);
  enforceLatestOverOld(chain, w.asParams, old, hubAS.enforceable);

  // --- S–B: B goes on chain with state m and claims the PTLC with t ---
  const sb = eltooTerms(w.sbParams);
  const fsb = fundingOutput(sb);
  const fundingSB = chain.fund({ amount: fsb.amount, script: fsb.scriptPubKey }, at(100));
  const um = publishUpdate(chain, w.sbParams, withPtlc, { kind: 'funding', outpoint: fundingSB }, 103);
  const sm = buildSettlementTx(sb, settlementSpec(w.sbParams, withPtlc.state), out0(um), sigs(withPtlc, 'settleSigs'));
  chain.submit(sm.tx, at(103 + w.sbParams.csvDelay));
  const { spec, sweep } = ptlcOf(w.sbParams, withPtlc.state, hexToBytes(offerId, 32));
  const ptlcOut = { txid: txid(sm.tx), vout: sm.ptlcVouts[0]! };
  const claim = buildClaimTx(spec, sweep, ptlcOut, {
    payer: completeClaimSignature(presig, hopSecret),
    payee: signClaim(spec, sweep, ptlcSecretKey(w.sbParams, w.B.chSk)),
  });
  chain.submit(claim, at(104 + w.sbParams.csvDelay));
  // S reads t + r from the chain with its own pre-signature and, knowing r, recovers t = s_B:
  // it can complete A's update either way.
  assert.equal(untweakSecret(extractPtlcSecret(spec, claim, presig), tweak), tSecret);
  assert.is.not(bytesToHex(spec.point), bytesToHex(adaptorPoint(tSecret)), 'the chain never sees T itself');
  assert.ok(w.log.some((l) => l.message.type === PaymentType.PTLC_FULFILL));
});

t.run();
