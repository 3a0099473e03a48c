/**
 * Generates `protocol/vectors/receipt.json`, the proof-of-payment vectors
 * (SPEC 6.16): from a payee identity key, a ticket nonce and the receipt
 * fields, the receipt key, the exact receipt message `m`, the receipt point
 * `T_B`, the ticket `R_B` and the final BIP340 receipt signature `(R_B, s_B)`.
 *
 * A second, step-by-step construction on noble's curve arithmetic, not on
 * `protocol/receipt.ts`: the test checks that the code reproduces every value
 * byte for byte. Pure: no clock, no randomness, no files
 * (`scripts/gen-receipt-vectors.ts` writes the JSON).
 * @module
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';

/** One receipt vector. Byte fields are lowercase hex; keys x-only. */
export interface ReceiptVector {
  description: string;
  /** The payee's identity secret key and x-only key (its mailbox key). */
  identitySecret: string;
  identityKey: string;
  /** The payee's mailbox address (one relay), which the receipt is verified against. */
  payeeAddress: string;
  /** The receipt key tweak, key and secret. */
  receiptTweak: string;
  receiptKey: string;
  receiptSecret: string;
  /** The ticket's secret nonce k (as drawn) and its x-only point R_B. */
  nonceSecret: string;
  ticket: string;
  offerId: string;
  amount: number;
  payer: string;
  expiry: number;
  /** m = taggedHash("ln-mailbox/v1/receipt", offerId ‖ amount ‖ payer ‖ payee ‖ expiry). */
  message: string;
  /** T_B = s_B·G, 33-byte compressed. */
  receiptPoint: string;
  /** (R_B.x ‖ s_B). */
  signature: string;
  /** The encoded receipt (177 bytes). */
  receipt: string;
}

const { Point } = secp256k1;
const N = Point.Fn.ORDER;
const mod = (a: bigint) => ((a % N) + N) % N;
const tagged = (tag: string, ...m: Uint8Array[]) => schnorr.utils.taggedHash(tag, ...m);
const u64 = (v: number) => numberToBytesBE(BigInt(v), 8);
const det = (label: string) => sha256(utf8ToBytes(`ln-mailbox receipt vector ${label}`));

function one(description: string, seed: string, amount: number, expiry: number, address: (key: Uint8Array) => string): ReceiptVector {
  const d0 = mod(bytesToNumberBE(det(`${seed} identity`)));
  const P0 = Point.BASE.multiply(d0);
  const dId = P0.toAffine().y % 2n === 0n ? d0 : mod(-d0);
  const Px = numberToBytesBE(P0.toAffine().x, 32);
  const tweak = tagged('ln-mailbox/v1/receipt-key', Px);
  const dR0 = mod(dId + mod(bytesToNumberBE(tweak)));
  const PR = Point.BASE.multiply(dR0);
  const dR = PR.toAffine().y % 2n === 0n ? dR0 : mod(-dR0);
  const PRx = numberToBytesBE(PR.toAffine().x, 32);
  const k0 = mod(bytesToNumberBE(det(`${seed} nonce`)));
  const R = Point.BASE.multiply(k0);
  const k = R.toAffine().y % 2n === 0n ? k0 : mod(-k0);
  const Rx = numberToBytesBE(R.toAffine().x, 32);
  const offerId = det(`${seed} offer`);
  const payer = numberToBytesBE(Point.BASE.multiply(mod(bytesToNumberBE(det(`${seed} payer`)))).toAffine().x, 32);
  const m = tagged('ln-mailbox/v1/receipt', concatBytes(offerId, u64(amount), payer, Px, u64(expiry)));
  const e = mod(bytesToNumberBE(tagged('BIP0340/challenge', Rx, PRx, m)));
  const s = mod(k + e * dR);
  const sig = concatBytes(Rx, numberToBytesBE(s, 32));
  if (!schnorr.verify(sig, m, PRx)) throw new Error('vector signature does not verify');
  return {
    description,
    identitySecret: bytesToHex(numberToBytesBE(d0, 32)),
    identityKey: bytesToHex(Px),
    payeeAddress: address(Px),
    receiptTweak: bytesToHex(tweak),
    receiptKey: bytesToHex(PRx),
    receiptSecret: bytesToHex(numberToBytesBE(dR0, 32)),
    nonceSecret: bytesToHex(numberToBytesBE(k0, 32)),
    ticket: bytesToHex(Rx),
    offerId: bytesToHex(offerId),
    amount,
    payer: bytesToHex(payer),
    expiry,
    message: bytesToHex(m),
    receiptPoint: bytesToHex(Point.BASE.multiply(s).toBytes(true)),
    signature: bytesToHex(sig),
    receipt: bytesToHex(concatBytes(new Uint8Array([1]), offerId, u64(amount), payer, Px, u64(expiry), sig)),
  };
}

/** The relay every vector's payee address names. */
export const VECTOR_RELAY = 'https://relay.example.com';

/**
 * The vectors. `address` encodes a payee's mailbox address from its x-only
 * key (the address format has its own vectors, SPEC 2: the writer and the
 * test pass the same encoder, with {@link VECTOR_RELAY}).
 */
export function generateReceiptVectors(address: (key: Uint8Array) => string): ReceiptVector[] {
  return [
    one('a payment of 50 000 sats', 'one', 50_000, 1_700_003_600_000, address),
    one('a payment of 1 sat, far expiry', 'two', 1, 4_102_444_800_000, address),
    one('the largest amount (21 000 000 BTC in sats)', 'three', 2_100_000_000_000_000, 1_700_000_000_001, address),
  ];
}
