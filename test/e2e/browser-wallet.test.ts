/**
 * The browser wallet (examples/browser-wallet) in a real browser: Debian's
 * Chromium driven by playwright-core runs the payee B in a page served from
 * one loopback origin, with IndexedDB, the browser's WebSocket and fetch,
 * against a real relay on another origin (CORS). The hub S and the payer A
 * run in this process. B subscribes and publishes its receipt tickets, the
 * page closes, A pays while it is closed, the page reopens and is paid, the
 * payer's receipt verifies, and a reload shows the IndexedDB state survived.
 * Twice: with a ready-made channel handed to the page (`Channel.toJSON()`),
 * and with the page opening its channel over the mailbox (SPEC 6.17: the hub
 * funds it), reading the chain simulator over Esplora HTTP from the page.
 *
 * Without a usable Chromium (`CHROMIUM_PATH`, else `chromium` /
 * `chromium-browser` / `google-chrome` on PATH) it prints a loud SKIPPED
 * line and registers nothing. The screenshot is kept under
 * `test-artifacts/` (gitignored); its path is printed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToHex, hexToBytes } from '../../base/bytes.js';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { decodeReceipt, verifyReceipt } from '../../protocol/receipt.js';
import { LevelKv, MemoryKv } from '../../client/mailbox/kv.js';
import { KvNonceStore } from '../../client/wallet/nonce-store.js';
import { HubNode, PayerNode } from '../../client/wallet/roles.js';
import { EsploraChainSource } from '../../client/chain/esplora.js';
import { SingleKeyWallet } from '../../client/chain/single-key-wallet.js';
import { randomSecretKey } from '../../crypto/bip340.js';
import { ChainModel } from '../../sim/chain-model.js';
import { startEsploraServer } from '../../sim/esplora-server.js';
import { openChannelPair } from '../../engine/channel/open.js';
import type { PaymentEvent } from '../../engine/payment/types.js';
import { startTestRelay, type TestRelay } from '../server/relay-harness.js';
import { buildWallet } from '../../examples/browser-wallet/build.mjs';
import { HUB_FEE, chain, client, keys, params, until } from './world.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const AMOUNT = 25_000;
const WAIT_MS = 60_000;

/** The system Chromium, or why there is none. */
function findChromium(): { path: string } | { why: string } {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const c of candidates) {
    try {
      const p = c.includes('/') ? c : execFileSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).trim();
      if (p && fs.existsSync(p)) return { path: p };
    } catch {
      // not on PATH
    }
  }
  return { why: `none of ${candidates.join(', ')} found; install the "chromium" package or set CHROMIUM_PATH` };
}

/** Serves `dir` (and `/config.json` from `config()`) on its own loopback port: another origin than the relay. */
async function servePage(dir: string, config: () => unknown): Promise<{ url: string; close(): Promise<void> }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };
  const server = http.createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname;
    if (name === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(JSON.stringify(config()));
    }
    const file = path.join(dir, name === '/' ? 'index.html' : path.basename(name));
    if (!fs.existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const t = suite('e2e/browser-wallet');
const chromium = findChromium();

/** The hub's terms (SPEC 6.17) when the page opens its channel. */
const TERMS = {
  csvMin: 12,
  csvMax: 500,
  minCapacity: 100_000,
  maxCapacity: 5_000_000,
  maxHubFunded: 2_000_000,
  updateFee: 500,
  settlementFee: 500,
  ptlcFee: 300,
  minConf: 2,
  maxPendingOpens: 1,
  openTimeout: 3600,
};

type Mode = 'ready-made channels' | 'channels opened over the mailbox';

async function scenario(browserPath: string, mode: Mode): Promise<void> {
  const { chromium: pw } = await import('playwright-core');
  const opened = mode === 'channels opened over the mailbox';
  const work = fs.mkdtempSync(os.tmpdir() + '/lnmb-browser-');
  const pageDir = path.join(work, 'page');
  await buildWallet(pageDir);
  // The page signs relay auth with the browser's clock: the relay runs on real time too.
  const relay: TestRelay = await startTestRelay({ now: () => Date.now() });
  const A = keys(),
    S = keys(),
    B = keys();
  const addr = {
    A: encodeMailboxAddress({ publicKey: A.idPk, relays: [relay.url] }),
    S: encodeMailboxAddress({ publicKey: S.idPk, relays: [relay.url] }),
    B: encodeMailboxAddress({ publicKey: B.idPk, relays: [relay.url] }),
  };
  const kvA = new LevelKv(A.dir);
  const kvS = new LevelKv(S.dir);
  // The chain: a fixed height, or (opened) the simulator over Esplora HTTP, a block every 150 ms.
  const model = opened ? new ChainModel({ height: 800, minFeeRate: 1 }) : undefined;
  const esplora = model ? await startEsploraServer(model) : undefined;
  const miner = model ? setInterval(() => model.mine(1), 150) : undefined;
  const source = () => new EsploraChainSource(esplora!.url);
  const wallet = (sk: Uint8Array, funds: number) => {
    const w = new SingleKeyWallet(sk, source(), { minConfirmations: 1 });
    if (funds > 0) model!.fundScript(w.scriptPubKey, funds);
    return w;
  };
  const chainOpts = esplora ? { chain: source(), chainPollMs: 100, openPollMs: 150, retryMs: 200 } : { chain };
  let config: object;
  let hubOpts: Parameters<typeof HubNode.open>[0];
  let payerOpts: Parameters<typeof PayerNode.open>[0];
  const hubBase = {
    identityKey: S.idSk,
    relays: [relay.url],
    kv: kvS,
    client,
    config: { channelKey: S.chSk, fee: HUB_FEE, safetyMargin: 6, maxTimeoutDelta: 100 },
  };
  const payerBase = {
    identityKey: A.idSk,
    relays: [relay.url],
    kv: kvA,
    client,
    config: { hubKey: S.idPk, hubAddress: addr.S, channelKey: A.chSk },
  };
  const pageBase = {
    relay: relay.url,
    address: addr.B,
    identityKey: bytesToHex(B.idSk),
    channelKey: bytesToHex(B.chSk),
    hubKey: bytesToHex(S.idPk),
    hubAddress: addr.S,
    db: 'payee-test',
  };
  if (opened) {
    // Nothing ready-made: the hub publishes its terms, the payer opens and funds A–S, the page opens S–B (the hub funds it).
    const walletKey = randomSecretKey();
    hubOpts = { ...hubBase, ...chainOpts, fundingWallet: wallet(randomSecretKey(), 5_000_000), terms: TERMS };
    payerOpts = { ...payerBase, ...chainOpts, fundingWallet: wallet(randomSecretKey(), 3_000_000) };
    config = { ...pageBase, esplora: esplora!.url, open: { amount: 800_000, csvDelay: 24 }, walletKey: bytesToHex(walletKey) };
  } else {
    // Ready-made channels at state 0 (both keys in this process: a test set-up). B's nonces
    // of state 0 are spent by the open; the page starts with an empty IndexedDB.
    const [aCh, sChA] = await openChannelPair(
      params(A.chPk, S.chPk, 288),
      [600_000, 399_000],
      A.chSk,
      S.chSk,
      new KvNonceStore(kvA),
      new KvNonceStore(kvS),
    );
    const [sChB, bCh] = await openChannelPair(
      params(S.chPk, B.chPk, 24),
      [700_000, 299_000],
      S.chSk,
      B.chSk,
      new KvNonceStore(kvS),
      new KvNonceStore(new MemoryKv()),
    );
    hubOpts = {
      ...hubBase,
      ...chainOpts,
      peers: [
        { channel: sChA, peerKey: A.idPk, peerAddress: addr.A },
        { channel: sChB, peerKey: B.idPk, peerAddress: addr.B },
      ],
    };
    payerOpts = { ...payerBase, ...chainOpts, channel: aCh, hubFee: HUB_FEE };
    config = { ...pageBase, channel: bCh.toJSON(), height: 800_000 };
  }
  const site = await servePage(pageDir, () => config);
  assert.is.not(new URL(site.url).origin, new URL(relay.url).origin, 'the page and the relay are different origins');
  const events = { A: [] as PaymentEvent[], S: [] as PaymentEvent[] };
  const hub = await HubNode.open(hubOpts);
  hub.on('payment', (e) => events.S.push(e));
  let payer: PayerNode | undefined;
  const browser = await pw.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const pageErrors: string[] = [];
    const open = async () => {
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      await page.goto(site.url);
      await page.waitForSelector('#status[data-state="online"]', { timeout: WAIT_MS });
      await page.waitForSelector('#tickets[data-published="true"]', { timeout: WAIT_MS });
      return page;
    };
    const balanceOf = async (page: import('playwright-core').Page) => Number(await page.getAttribute('#balance', 'data-sats'));

    // 0. The payer is online with its channel (opened over the mailbox and funded on chain, when so).
    payer = await PayerNode.open(payerOpts);
    payer.on('payment', (e) => events.A.push(e));
    if (opened) {
      const openId = await payer.openChannel({ amount: 1_000_000, csvDelay: 288 });
      const o = payer.openInProgress();
      assert.ok(o, 'the open is listed while it is under way');
      assert.equal([o.openId, o.amount, o.hubFunds], [openId, 1_000_000, false]);
    }
    await payer.channelReady();
    assert.is(payer.openInProgress(), undefined, 'no open once the channel is ready');

    // 1. B opens the page: subscribes (opens its channel, when so), publishes its receipt tickets; then the page closes.
    let page = await open();
    const before = await balanceOf(page);
    assert.is(before, opened ? 0 : 299_000, 'the opening balance: the hub funded the channel, or the ready-made one');
    if (opened)
      await until(() => events.S.filter((e) => e.kind === 'channel_ready').length === 2, 'the hub to count both channels ready', WAIT_MS);
    await page.close();

    // 2. A pays while the page is closed.
    const offerId = await payer.payOffline(addr.B, AMOUNT, { memo: 'coffee' });
    await until(() => events.A.some((e) => e.kind === 'offered' && e.offerId === offerId), 'the offer to be posted', WAIT_MS);
    assert.not.ok(
      events.S.some((e) => e.kind === 'paid'),
      'nothing settles while the page is closed',
    );

    // 3. The page reopens: it is pushed the offer, sells the signature, and shows the payment paid.
    page = await open();
    const row = `tr[data-offer="${offerId}"] td.status`;
    await page.waitForSelector(`${row}[data-status="paid"]`, { timeout: WAIT_MS });
    await until(() => events.A.some((e) => e.kind === 'completed' && e.offerId === offerId), 'the payer to complete', WAIT_MS);
    // The hub's `paid` follows the payee's settlement of the PTLC, which may come after the payer's completion.
    await until(() => events.S.some((e) => e.kind === 'paid' && e.offerId === offerId), 'the hub to see the payment paid', WAIT_MS);
    const paidBalance = await balanceOf(page);
    assert.is(paidBalance, before + AMOUNT, 'the balance grew by the amount');
    assert.match((await page.textContent(`tr[data-offer="${offerId}"]`)) ?? '', 'coffee');

    // The payer's receipt verifies against B's address (and nobody else's).
    const stored = payer.payments().find((p) => p.offerId === offerId);
    assert.ok(stored?.status === 'completed' && stored.receipt, 'the payer stored the completed payment and its receipt');
    const receipt = hexToBytes(stored.receipt.receipt);
    assert.ok(verifyReceipt(receipt, addr.B), "the receipt verifies against B's address");
    assert.not.ok(verifyReceipt(receipt, addr.A));
    assert.is(decodeReceipt(receipt).amount, AMOUNT);

    // 4. A reload: the IndexedDB state survived (the payment still listed, the balance unchanged).
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]', { timeout: WAIT_MS });
    await page.waitForSelector(`${row}[data-status="paid"]`, { timeout: WAIT_MS });
    assert.is(await balanceOf(page), paidBalance, 'the balance survived the reload');
    assert.is(await page.locator('#payments tr').count(), 1, 'one payment, listed once');

    // 5. The screenshot, kept as an artifact.
    const shots = path.join(root, 'test-artifacts');
    fs.mkdirSync(shots, { recursive: true });
    const shot = path.join(shots, `browser-wallet-${opened ? 'opened' : 'ready-made'}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`browser wallet screenshot (${mode}): ${shot}`);
    assert.equal(pageErrors, [], 'no uncaught error in the page');
    await page.close();
    await context.close();
  } finally {
    await browser.close();
    await payer?.close();
    await hub.close();
    if (miner) clearInterval(miner);
    await esplora?.close();
    await kvA.close();
    await kvS.close();
    await site.close();
    await relay.close();
    for (const d of [work, A.dir, S.dir, B.dir]) fs.rmSync(d, { recursive: true, force: true });
  }
}

t('the page reads its state through the wallet query API only, never from the engine', () => {
  const page = fs.readFileSync(path.join(root, 'examples/browser-wallet/main.ts'), 'utf8');
  assert.not.match(page, /\.engine\b/);
  for (const call of ['balances()', 'channels()', 'payments()', 'openInProgress()']) assert.ok(page.includes(`node.${call}`), call);
});

if ('why' in chromium) {
  console.log(`SKIPPED: no Chromium (${chromium.why}): the browser wallet test did not run`);
} else {
  const browserPath = chromium.path;
  t('a payee in a real browser page, ready-made channels: paid while the page is closed, state kept in IndexedDB', () =>
    scenario(browserPath, 'ready-made channels'),
  );
  t('a payee in a real browser page that opens its channel over the mailbox (the hub funds it) and is paid while closed', () =>
    scenario(browserPath, 'channels opened over the mailbox'),
  );
}

t.run();
