/**
 * Hub-wide bounds on pending opens (SPEC 6.17.4, policy), from the side of a
 * Sybil: identity keys cost nothing, so the terms' per-peer
 * `maxPendingOpens` alone lets one attacker make the hub commit to any
 * number of channels, and to fund as many as it asks. The hub bounds the
 * pending opens of all peers (`openLimits.pendingOpens`) and the sats it is
 * committed to fund over them (`openLimits.pendingHubFunded`), and one
 * channel key counts its pending opens whoever asked.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../../base/errors.js';
import { getPublicKey } from '../../../crypto/bip340.js';
import { PaymentType } from '../../../protocol/payment.js';
import type { HubConfig } from '../../../engine/payment/hub/config.js';
import { openWorld, strangerOpen, type OpenWorld } from './open-fixture.js';

const t = suite('engine/payment/open-limits');
let w: OpenWorld;
t.after.each(async () => w?.close());

const key = () => getPublicKey(new Uint8Array(randomBytes(32)));

const ACCEPT = { type: PaymentType.OPEN_ACCEPT };
const REFUSED = { type: PaymentType.REJECT, code: ErrorCode.OPEN_REFUSED };

t('many identities: at most openLimits.pendingOpens pending opens over all peers', async () => {
  w = await openWorld('sybil-count');
  (w.hub.config as HubConfig).openLimits = { pendingOpens: 3 };
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await strangerOpen(w, { amount: 1_000_000, hubFunds: false }));
  assert.equal(answers, [ACCEPT, ACCEPT, ACCEPT, REFUSED]);
  assert.is(w.hub.opens.size, 3);
});

t('many identities asking the hub to fund: at most openLimits.pendingHubFunded sats committed', async () => {
  w = await openWorld('sybil-funds');
  (w.hub.config as HubConfig).openLimits = { pendingHubFunded: 3_000_000 };
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await strangerOpen(w, { amount: 1_500_000, hubFunds: true }));
  assert.equal(answers, [ACCEPT, ACCEPT, REFUSED]);
  // Opens the opener funds commit none of the hub's coins.
  assert.equal(await strangerOpen(w, { amount: 1_500_000, hubFunds: false }), ACCEPT);
});

t('a channel key with an open pending is refused to a second identity', async () => {
  w = await openWorld('sybil-key');
  const channelKey = key();
  assert.equal(await strangerOpen(w, { amount: 1_000_000, hubFunds: false, channelKey }), ACCEPT);
  assert.equal(await strangerOpen(w, { amount: 1_000_000, hubFunds: false, channelKey }), REFUSED);
  assert.is(w.hub.opens.size, 1);
});

t.run();
