/**
 * Guards of the point tweak (payment-point decorrelation) that a protocol
 * message cannot reach honestly: a tweak that cancels the point, and
 * secrets or tweaks that are not canonical scalars. Each must be refused
 * with a typed error, not an exception from the curve library.
 */
import { suite } from 'uvu';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { numberToBytesBE } from '@noble/curves/utils.js';
import { ErrorCode } from '../../base/errors.js';
import { adaptorPoint } from '../../crypto/adaptor.js';
import { tweakPoint, tweakSecret, untweakSecret } from '../../crypto/tweak.js';
import { throwsCode } from '../helpers.js';

const t = suite('crypto/guards');
const N = secp256k1.Point.Fn.ORDER;
const b32 = (v: bigint) => numberToBytesBE(v, 32);

t('a tweak that cancels the point (r = n − t for T = t·G) is refused: the tweaked point would be infinity', () => {
  const secret = 0x1234_5678_9abc_def0n;
  throwsCode(() => tweakPoint(adaptorPoint(b32(secret)), b32(N - secret)), ErrorCode.INVALID_PUBLIC_KEY);
});

t('tweaks and secrets at or above the curve order are refused', () => {
  const T = adaptorPoint(b32(7n));
  for (const bad of [N, N + 1n]) {
    throwsCode(() => tweakPoint(T, b32(bad)), ErrorCode.INVALID_RANGE);
    throwsCode(() => tweakSecret(b32(bad), b32(1n)), ErrorCode.INVALID_RANGE);
    throwsCode(() => untweakSecret(b32(1n), b32(bad)), ErrorCode.INVALID_RANGE);
  }
});

t.run();
