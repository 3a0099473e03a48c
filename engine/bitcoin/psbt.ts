/**
 * PSBTs (BIP174) as the package's transaction model sees them, through
 * `@scure/btc-signer`'s audited coder: decode a PSBT into its transaction
 * fields, each input's outpoint, sequence, witness UTXO (BIP174
 * `PSBT_IN_WITNESS_UTXO`) and final witness (`PSBT_IN_FINAL_SCRIPTWITNESS`),
 * and encode them back. Only what taproot funding and fee bumping need:
 * no partial signatures, no derivation paths, no scriptSig. A malformed
 * PSBT is refused with `FUNDING_INVALID`.
 * @module
 */
import { Transaction } from '@scure/btc-signer';
import { abytes } from '../../base/bytes.js';
import { ErrorCode, LnMailboxError, fail } from '../../base/errors.js';
import { assertAmount, assertU32, type BitcoinTx, type Outpoint, type Prevout, type TxOutput } from './transaction.js';

/** One input of a PSBT. */
export interface PsbtInput extends Outpoint {
  readonly sequence: number;
  /** The output it spends (BIP174 witness UTXO), when the PSBT carries it. */
  readonly prevout: Prevout | null;
  /** Its final witness, once signed and finalized; null before. */
  readonly finalWitness: readonly Uint8Array[] | null;
}

/** A PSBT's content, in the package's model. */
export interface Psbt {
  readonly version: number;
  readonly lockTime: number;
  readonly inputs: readonly PsbtInput[];
  readonly outputs: readonly TxOutput[];
}

// The PSBT carries channel scripts btc-signer does not classify; the checks
// that matter (commitments, signatures) are ours and the chain's.
const OPTS = { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true, allowUnknownVersion: true } as const;

/** Decodes a PSBT (v0 or v2). Throws FUNDING_INVALID when it does not parse or carries a scriptSig. */
export function decodePsbt(bytes: Uint8Array): Psbt {
  abytes(bytes, undefined, 'psbt');
  let t: Transaction;
  try {
    t = Transaction.fromPSBT(bytes, OPTS);
  } catch (e) {
    throw new LnMailboxError(ErrorCode.FUNDING_INVALID, `psbt: does not parse (${(e as Error).message})`, { cause: e });
  }
  const inputs: PsbtInput[] = [];
  for (let i = 0; i < t.inputsLength; i++) {
    const inp = t.getInput(i);
    if (inp.txid === undefined || inp.index === undefined) fail(ErrorCode.FUNDING_INVALID, `psbt: input ${i} has no outpoint`);
    if (inp.finalScriptSig && inp.finalScriptSig.length > 0) fail(ErrorCode.FUNDING_INVALID, `psbt: input ${i} has a scriptSig`);
    const w = inp.witnessUtxo;
    inputs.push({
      txid: inp.txid,
      vout: inp.index,
      sequence: inp.sequence ?? 0xffff_ffff,
      prevout: w ? { amount: w.amount, scriptPubKey: w.script } : null,
      finalWitness: inp.finalScriptWitness ? [...inp.finalScriptWitness] : null,
    });
  }
  const outputs: TxOutput[] = [];
  for (let i = 0; i < t.outputsLength; i++) {
    const o = t.getOutput(i);
    if (o.script === undefined || o.amount === undefined) fail(ErrorCode.FUNDING_INVALID, `psbt: output ${i} is incomplete`);
    outputs.push({ amount: o.amount, script: o.script });
  }
  return { version: t.version, lockTime: t.lockTime, inputs, outputs };
}

/** Encodes `p` as a PSBT (v0). */
export function encodePsbt(p: Psbt): Uint8Array {
  const t = new Transaction({ ...OPTS, version: assertU32(p.version, 'version'), lockTime: assertU32(p.lockTime, 'lockTime') });
  for (const i of p.inputs) {
    t.addInput(
      {
        txid: abytes(i.txid, 32, 'txid'),
        index: assertU32(i.vout, 'vout'),
        sequence: assertU32(i.sequence, 'sequence'),
        ...(i.prevout ? { witnessUtxo: { script: i.prevout.scriptPubKey, amount: assertAmount(i.prevout.amount) } } : {}),
        ...(i.finalWitness ? { finalScriptWitness: [...i.finalWitness] } : {}),
      },
      true,
    );
  }
  for (const o of p.outputs) t.addOutput({ script: o.script, amount: assertAmount(o.amount) }, true);
  return t.toPSBT(0);
}

/** The transaction a PSBT describes; inputs not finalized get an empty witness. */
export function psbtTx(p: Psbt): BitcoinTx {
  return {
    version: p.version,
    lockTime: p.lockTime,
    inputs: p.inputs.map((i) => ({ txid: i.txid, vout: i.vout, sequence: i.sequence, witness: i.finalWitness ?? [] })),
    outputs: p.outputs.map((o) => ({ amount: o.amount, script: o.script })),
  };
}

/** The signed transaction of a PSBT whose every input is finalized. Throws FUNDING_INVALID otherwise. */
export function extractPsbtTx(psbt: Uint8Array | Psbt): BitcoinTx {
  const p = psbt instanceof Uint8Array ? decodePsbt(psbt) : psbt;
  if (p.inputs.length === 0) fail(ErrorCode.FUNDING_INVALID, 'psbt: no inputs');
  p.inputs.forEach((i, k) => {
    if (!i.finalWitness || i.finalWitness.length === 0) fail(ErrorCode.FUNDING_INVALID, `psbt: input ${k} is not signed and finalized`);
  });
  return psbtTx(p);
}

/**
 * The PSBT of a transaction whose inputs are already signed (an enforcement
 * transaction to fee-bump): every input finalized with its witness (an input
 * with an empty witness stays unsigned), and its witness UTXO from
 * `prevouts` (one per input, in order), which a taproot signer needs for
 * every input. Hand it to a funding wallet with `change: false` when the
 * signatures commit to every output.
 */
export function psbtFromTx(tx: BitcoinTx, prevouts: readonly Prevout[]): Uint8Array {
  if (prevouts.length !== tx.inputs.length)
    fail(ErrorCode.INVALID_LENGTH, `psbt: ${prevouts.length} prevouts for ${tx.inputs.length} inputs`);
  return encodePsbt({
    version: tx.version,
    lockTime: tx.lockTime,
    inputs: tx.inputs.map((i, k) => ({
      txid: i.txid,
      vout: i.vout,
      sequence: i.sequence,
      prevout: prevouts[k]!,
      finalWitness: i.witness.length > 0 ? [...i.witness] : null,
    })),
    outputs: tx.outputs,
  });
}
