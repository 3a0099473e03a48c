/**
 * A hub renews its terms while it runs (SPEC 6.17.1), seen from the side of
 * openers and of whoever hands the hub terms: an OPEN naming the current
 * terms or the previous, still unexpired ones is accepted; one naming terms
 * that have expired, or terms two renewals old, is refused (OPEN_REFUSED);
 * the hub takes as its terms only terms that state its configuration, are
 * unexpired and not older than its current ones. A wallet keeps fresh terms
 * read outside an open only when they check.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '../../../base/bytes.js';
import { ErrorCode } from '../../../base/errors.js';
import { getPublicKey, randomSecretKey } from '../../../crypto/bip340.js';
import { PaymentType, type PaymentMessageOf } from '../../../protocol/payment.js';
import { signTerms, termsId, type HubTerms } from '../../../protocol/terms.js';
import { rejectsCode, throwsCode } from '../../helpers.js';
import { openWorld, strangerOpen, type OpenWorld } from './open-fixture.js';

const t = suite('engine/payment/open-terms-renewal');
let w: OpenWorld;
t.after.each(async () => w?.close());

const DAY = 86_400_000;
const key = () => getPublicKey(new Uint8Array(randomBytes(32)));

/** The hub's terms signed again at `issued` (valid 30 days), with `change` applied. */
function renewed(w: OpenWorld, issued: number, change: Partial<HubTerms> = {}, signer = w.keys.S.id): Uint8Array {
  return signTerms({ ...w.terms, serial: w.terms.serial + 1, issued, expiry: issued + 30 * DAY, ...change }, signer);
}

const ACCEPT = { type: PaymentType.OPEN_ACCEPT };
const REFUSED = { type: PaymentType.REJECT, code: ErrorCode.OPEN_REFUSED };

t('past its terms’ expiry the hub refuses every open, until it renews them: then opens under the new terms succeed', async () => {
  w = await openWorld('renew-expired');
  const t0 = w.termsDoc;
  w.clock.now += 31 * DAY; // the first terms have expired while the hub runs
  assert.equal(await strangerOpen(w, { termsId: termsId(t0) }), REFUSED, 'expired terms open nothing');
  const t1 = renewed(w, w.clock.now);
  assert.ok(w.hub.renewTerms(t1, w.clock.now));
  assert.equal(w.hub.terms!.id, termsId(t1));
  assert.equal(await strangerOpen(w, { termsId: termsId(t1) }), ACCEPT, 'an OPEN naming the new terms is accepted');
  assert.equal(await strangerOpen(w, { termsId: termsId(t0) }), REFUSED, 'the replaced terms have expired: still refused');
  // A TERMS_REQUEST is answered with the new terms.
  const s = await w.hub.handle({ from: w.keys.A.idPub, message: { type: PaymentType.TERMS_REQUEST, replyTo: w.keys.A.address } }, w.ctx());
  assert.equal((s.send[0]!.message as PaymentMessageOf<typeof PaymentType.TERMS>).terms, t1);
});

t('an OPEN naming the previous terms is accepted while they are unexpired, refused once they expire or are two renewals old', async () => {
  w = await openWorld('renew-previous');
  const t0 = w.termsDoc;
  w.clock.now += 16 * DAY; // less than half of the validity left: the hub renews
  const t1 = renewed(w, w.clock.now);
  assert.ok(w.hub.renewTerms(t1, w.clock.now));
  assert.equal(await strangerOpen(w, { termsId: termsId(t0) }), ACCEPT, 'a wallet that read the terms just before the renewal opens');
  assert.equal(await strangerOpen(w, { termsId: termsId(t1) }), ACCEPT);
  w.clock.now += 15 * DAY; // t0 expired, t1 still valid
  assert.equal(await strangerOpen(w, { termsId: termsId(t0) }), REFUSED, 'previous terms that have expired are refused');
  assert.equal(await strangerOpen(w, { termsId: termsId(t1) }), ACCEPT);
  const t2 = renewed(w, w.clock.now, { serial: w.terms.serial + 2 });
  assert.ok(w.hub.renewTerms(t2, w.clock.now));
  assert.equal(await strangerOpen(w, { termsId: termsId(t1) }), ACCEPT, 't1 is now the previous terms, unexpired');
  // Terms named by an open are checked as they state: capacity bounds of the named terms hold.
  assert.equal(await strangerOpen(w, { termsId: termsId(t2) }), ACCEPT);
  const t3 = renewed(w, w.clock.now + 1000, { serial: w.terms.serial + 3 });
  assert.ok(w.hub.renewTerms(t3, w.clock.now));
  assert.equal(await strangerOpen(w, { termsId: termsId(t1) }), REFUSED, 'terms two renewals old are no longer accepted, unexpired or not');
});

t('the hub takes as its terms only its own, unexpired, not older terms; a refused renewal changes nothing', async () => {
  w = await openWorld('renew-guards');
  const before = w.hub.terms!.id;
  const now = w.clock.now;
  // Terms of another fee, timeout delta, channel key or signer; expired terms; terms older than the current ones.
  const bad = [
    renewed(w, now, { feePpm: 0 }),
    renewed(w, now, { feeBase: w.terms.feeBase + 1 }),
    renewed(w, now, { maxTimeoutDelta: w.terms.maxTimeoutDelta + 1 }),
    renewed(w, now, { channelKey: key() }),
    (() => {
      const other = randomSecretKey();
      return renewed(w, now, { hubKey: getPublicKey(other) }, other);
    })(),
    renewed(w, now - 31 * DAY),
    renewed(w, w.terms.issued - 5000),
  ];
  for (const doc of bad) assert.throws(() => w.hub.renewTerms(doc, now));
  // A hub never starts under terms that misstate its timeout delta.
  throwsCode(() => w.hub.renewTerms(renewed(w, now, { maxTimeoutDelta: w.terms.maxTimeoutDelta - 1 }), now), ErrorCode.INVALID_RANGE);
  // Newer terms that expire exactly now are expired too (only the expiry check stands in the way).
  const late = renewed(w, now + 1);
  throwsCode(() => w.hub.renewTerms(late, now + 1 + 30 * DAY), ErrorCode.INVALID_RANGE);
  assert.equal(w.hub.terms!.id, before, 'the hub still has its terms');
  assert.is(w.hub.previousTerms, undefined);
  assert.not.ok(w.hub.renewTerms(w.termsDoc, now), 'the same terms again change nothing');
  assert.is(w.hub.previousTerms, undefined);
  // Terms issued at the same moment as the current ones are not older: they are taken.
  assert.ok(w.hub.renewTerms(renewed(w, w.terms.issued), now));
  // Terms are configuration, not persisted state.
  assert.ok(w.hub.renewTerms(renewed(w, now), now));
  assert.not.ok(JSON.stringify(w.hub.toJSON()).includes(bytesToHex(w.hub.terms!.doc)));
});

t('a wallet keeps fresh terms only when they check: not a stranger’s, not expired ones, not older ones', async () => {
  w = await openWorld('renew-wallet');
  const slot = w.payer.slot;
  const now = w.clock.now;
  const other = randomSecretKey();
  await rejectsCode(w.payer.noteTerms(renewed(w, now, { hubKey: getPublicKey(other) }, other), w.ctx()), ErrorCode.INVALID_SIGNATURE);
  await rejectsCode(w.payer.noteTerms(renewed(w, now - 31 * DAY), w.ctx()), ErrorCode.PAYMENT_BAD_MESSAGE);
  assert.is(slot.terms(now), undefined);
  const s = await w.payer.noteTerms(w.termsDoc, w.ctx());
  assert.equal(s.send, []);
  assert.is(slot.terms(now)!.feePpm, w.terms.feePpm);
  assert.equal(w.payer.toJSON().terms, bytesToHex(w.termsDoc), 'persisted with the slot');
  // Older terms do not replace newer ones; newer ones replace older ones.
  const newer = renewed(w, now);
  await w.payer.noteTerms(newer, w.ctx());
  await w.payer.noteTerms(w.termsDoc, w.ctx());
  assert.equal(w.payer.toJSON().terms, bytesToHex(newer));
});

t.run();
