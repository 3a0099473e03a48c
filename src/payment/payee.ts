/**
 * The Payee (B) of mode 1 (DESIGN.md §2): when it comes online it is pushed
 * the payer's offer, verifies that s_A is the payer's valid BIP340 signature
 * over the update sighash BEFORE issuing any invoice, invoices the hub, and
 * sells s_A for a PTLC locked to T = s_A·G, revealing it only once it holds a
 * fully signed channel state containing the PTLC and the hub's adaptor
 * pre-signature for the claim (so it could claim on chain with t).
 * @module
 */
import { bytesToHex, equalBytes, hexToBytes } from '../../protocol/bytes.js';
import { ErrorCode, isLnMailboxError } from '../../protocol/errors.js';
import {
  PaymentType, decodeChannelState, encodeChannelState, invoiceSigHash, type InvoiceFields, type PaymentMessageOf,
} from '../../protocol/payment.js';
import type { NonceStore } from '../crypto/nonce.js';
import { adaptorPoint } from '../crypto/adaptor.js';
import { getPublicKey as getPublicKeyOf, sign, verify } from '../crypto/bip340.js';
import { Channel, type ChannelJson } from '../channel/channel.js';
import { addPtlc, resolvePtlc, sameState } from '../channel/state.js';
import { verifyPtlcClaimPresig } from '../channel/txs.js';
import { ignored, reject, rejectMessage, step, type Incoming, type Step, type StepContext } from './types.js';

/** Status of an incoming payment. */
export type PayeeStatus = 'invoiced' | 'accepted' | 'fulfilling' | 'paid' | 'void' | 'failed';

/** One incoming payment as the payee persists it. Byte fields are hex. */
export interface PayeePayment {
  offerId: string;
  amount: number;
  expiry: number;
  point: string;
  /** The payer's s_A: the secret being sold. */
  secret: string;
  memo: string;
  status: PayeeStatus;
  ptlcState?: number;
  claimPresig?: string;
  /** Identity key (hex) of whoever sent the offer: only it may void the offer. */
  payerIdentity: string;
}

/** Static configuration of a payee. */
export interface PayeeConfig {
  /** The payee's identity (mailbox) secret key: signs invoices. */
  identityKey: Uint8Array;
  /** The payee's mailbox address, put in invoices. */
  address: string;
  /** The payee's channel secret key (party 1 of the S–B channel). */
  channelKey: Uint8Array;
  /** The hub's identity key and the channel with it. */
  hubKey: Uint8Array;
  hubAddress: string;
  /** Blocks the payee needs to claim a PTLC on chain. */
  timeoutDelta: number;
  /** How long an invoice stays valid, ms. */
  invoiceTtlMs: number;
}

/** Persisted state of a {@link Payee}. */
export interface PayeeJson {
  channel: ChannelJson;
  payments: Record<string, PayeePayment>;
}

/** The payee role engine. Pure: the runtime persists {@link Payee.toJSON} after every step. */
export class Payee {
  readonly payments: Map<string, PayeePayment>;

  constructor(
    readonly config: PayeeConfig,
    readonly channel: Channel,
    private readonly nonces: NonceStore,
    payments: Record<string, PayeePayment> = {},
  ) {
    this.payments = new Map(Object.entries(payments));
  }

  /** Handles one message (an offer from any payer, or a message from the hub). */
  async handle(inc: Incoming, ctx: StepContext): Promise<Step> {
    const m = inc.message;
    try {
      switch (m.type) {
        case PaymentType.OFFER:
          return this.onOffer(inc.from, m, ctx);
        case PaymentType.OFFER_VOID:
          return this.onVoid(inc.from, m);
      }
      // Everything else must come from our hub.
      if (!equalBytes(inc.from, this.config.hubKey)) return ignored(m.type, 'not from our hub');
      switch (m.type) {
        case PaymentType.PTLC_ADD:
          return await this.onPtlcAdd(m, ctx);
        case PaymentType.PTLC_COMMIT:
          return await this.onPtlcCommit(m);
        case PaymentType.PTLC_SETTLE:
          return await this.onSettle(m);
        case PaymentType.REJECT:
          return this.onReject(m);
        default:
          return ignored(m.type, 'not a message for the payee');
      }
    } catch (e) {
      if (!isLnMailboxError(e) || m.type === PaymentType.OFFER) throw e;
      const ref = 'offerId' in m ? m.offerId : 'channelId' in m ? m.channelId : new Uint8Array(32);
      const s = step();
      if (m.type === PaymentType.PTLC_ADD) {
        s.send.push({ to: this.config.hubAddress, message: { type: PaymentType.PTLC_FAIL, channelId: m.channelId, offerId: m.offerId, reason: `${e.code}: ${e.message}`.slice(0, 300) } });
      } else {
        s.send.push({ to: this.config.hubAddress, message: rejectMessage(m.type, ref, e.code, e.message) });
      }
      s.events.push({ kind: 'rejected', offerId: bytesToHex(ref), code: e.code, message: e.message });
      return s;
    }
  }

  private onOffer(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OFFER>, ctx: StepContext): Step {
    const id = bytesToHex(m.offerId);
    if (this.payments.has(id)) return ignored(m.type, 'duplicate offer');
    if (!equalBytes(m.hub, this.config.hubKey)) return ignored(m.type, 'offer through a hub we have no channel with');
    if (!(m.expiry > ctx.now)) return ignored(m.type, 'offer expired');
    // Safety rule: no invoice before s_A is verified against the update's sighash.
    if (!verify(m.payerSig, m.updateSighash, m.payerKey)) return ignored(m.type, "payer's signature does not verify");
    const secret = m.payerSig.subarray(32, 64);
    if (!equalBytes(adaptorPoint(secret), m.point)) return ignored(m.type, 'payment point is not s_A·G');
    const fields: InvoiceFields = {
      offerId: m.offerId, point: m.point, amount: m.amount, expiry: Math.min(m.expiry, ctx.now + this.config.invoiceTtlMs),
      payeeChannel: this.channel.params.channelId, payeeAddress: this.config.address, timeoutDelta: this.config.timeoutDelta,
      payeeKey: this.publicKey(),
    };
    const signature = sign(invoiceSigHash(fields), this.config.identityKey);
    this.payments.set(id, {
      offerId: id, amount: m.amount, expiry: m.expiry, point: bytesToHex(m.point), secret: bytesToHex(secret), memo: m.memo,
      status: 'invoiced', payerIdentity: bytesToHex(from),
    });
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: { type: PaymentType.INVOICE, ...fields, signature } });
    s.events.push({ kind: 'offer_received', offerId: id, amount: m.amount }, { kind: 'invoiced', offerId: id });
    return s;
  }

  private publicKey(): Uint8Array {
    return this.cachedKey ??= getPublicKeyOf(this.config.identityKey);
  }
  private cachedKey: Uint8Array | undefined;

  private onVoid(from: Uint8Array, m: PaymentMessageOf<typeof PaymentType.OFFER_VOID>): Step {
    const p = this.payments.get(bytesToHex(m.offerId));
    // Only the offer's sender may void it, and only before it is being paid; the hub decides the rest.
    if (!p || p.status !== 'invoiced') return ignored(m.type, 'nothing to void');
    if (p.payerIdentity !== bytesToHex(from)) return ignored(m.type, 'void from someone other than the payer');
    p.status = 'void';
    const s = step();
    s.events.push({ kind: 'voided', offerId: p.offerId });
    return s;
  }

  private async onPtlcAdd(m: PaymentMessageOf<typeof PaymentType.PTLC_ADD>, ctx: StepContext): Promise<Step> {
    const id = bytesToHex(m.offerId);
    const p = this.payments.get(id);
    if (!p || p.status !== 'invoiced') return ignored(m.type, 'no invoiced offer for that PTLC');
    const ch = this.channel;
    if (!equalBytes(m.channelId, ch.params.channelId)) reject('PTLC on an unknown channel');
    const next = decodeChannelState(m.state);
    const added = next.ptlcs.find((x) => equalBytes(x.id, m.offerId));
    if (!added) reject('state does not contain the PTLC');
    if (added.timeout < ctx.height + this.config.timeoutDelta) reject('PTLC timeout leaves too little time to claim');
    // To claim on chain B must publish update m and wait the CSV delay before settlement m
    // confirms; a timeout inside that window would let S refund first.
    if (added.timeout - ctx.height <= ch.params.csvDelay)
      reject(`PTLC timeout ${added.timeout - ctx.height} blocks is not beyond the channel's CSV delay ${ch.params.csvDelay}`);
    const expected = addPtlc(ch.enforceable.state, { id: m.offerId, offerer: 0, amount: p.amount, point: hexToBytes(p.point, 33), timeout: added.timeout }, next.n);
    if (!sameState(next, expected)) reject('state does not add exactly the invoiced PTLC', ErrorCode.CHANNEL_INVARIANT);
    ch.propose(next);
    try {
      ch.receiveSettlementSig(m.settleSig);
      ch.receiveUpdateNonce(m.updateNonce);
      if (!verifyPtlcClaimPresig(ch.params, next, m.offerId, m.claimPresig))
        reject("hub's claim pre-signature does not verify", ErrorCode.INVALID_ADAPTOR_SIGNATURE);
    } catch (e) {
      ch.abandonPending(); // we answer PTLC_FAIL: the state is dropped on both sides
      throw e;
    }
    const settleSig = ch.signSettlement(this.config.channelKey);
    const R = await ch.commitUpdateNonce(this.nonces, this.config.channelKey);
    const updateSig = await ch.signUpdate(this.nonces, this.config.channelKey);
    p.status = 'accepted';
    p.ptlcState = next.n;
    p.claimPresig = bytesToHex(m.claimPresig);
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: { type: PaymentType.PTLC_ACCEPT, channelId: m.channelId, n: next.n, updateNonce: R, settleSig, updateSig } });
    return s;
  }

  private async onPtlcCommit(m: PaymentMessageOf<typeof PaymentType.PTLC_COMMIT>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'accepted' && x.ptlcState === m.n);
    const ch = this.channel;
    if (!p || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no accepted PTLC for that state');
    ch.receiveUpdateSig(m.updateSig);
    // State m (with the PTLC) is now enforceable by us: revealing t is safe.
    const next = resolvePtlc(ch.enforceable.state, hexToBytes(p.offerId, 32), 'fulfil', ch.topN + 1);
    ch.propose(next);
    const settleSig = ch.signSettlement(this.config.channelKey);
    const R = await ch.commitUpdateNonce(this.nonces, this.config.channelKey);
    p.status = 'fulfilling';
    const s = step();
    s.send.push({
      to: this.config.hubAddress,
      message: {
        type: PaymentType.PTLC_FULFILL, channelId: m.channelId, offerId: hexToBytes(p.offerId, 32), secret: hexToBytes(p.secret, 32),
        state: encodeChannelState(next), updateNonce: R, settleSig,
      },
    });
    s.events.push({ kind: 'ptlc_committed', offerId: p.offerId });
    return s;
  }

  private async onSettle(m: PaymentMessageOf<typeof PaymentType.PTLC_SETTLE>): Promise<Step> {
    const p = [...this.payments.values()].find((x) => x.status === 'fulfilling');
    const ch = this.channel;
    if (!p || !ch.pending || ch.pending.state.n !== m.n) return ignored(m.type, 'no fulfilment in flight');
    ch.receiveSettlementSig(m.settleSig);
    ch.receiveUpdateNonce(m.updateNonce);
    const updateSig = await ch.signUpdate(this.nonces, this.config.channelKey);
    ch.receiveUpdateSig(m.updateSig);
    p.status = 'paid';
    const s = step();
    s.send.push({ to: this.config.hubAddress, message: { type: PaymentType.PTLC_SETTLE_ACK, channelId: m.channelId, n: m.n, updateSig } });
    s.events.push({ kind: 'paid', offerId: p.offerId, amount: p.amount });
    return s;
  }

  private onReject(m: PaymentMessageOf<typeof PaymentType.REJECT>): Step {
    const p = this.payments.get(bytesToHex(m.ref));
    if (!p || p.status !== 'invoiced') return ignored(m.type, 'reject for nothing pending');
    p.status = 'failed';
    const s = step();
    s.events.push({ kind: 'rejected', offerId: p.offerId, code: m.code, message: m.message });
    return s;
  }

  /** Persisted state. */
  toJSON(): PayeeJson {
    return { channel: this.channel.toJSON(), payments: Object.fromEntries(this.payments) };
  }
}


