/**
 * A browser wallet (the payee, B) in one page: a {@link PayeeNode} over
 * IndexedDB (`LevelKv`: `level` resolves to browser-level in a browser
 * bundle), the browser's own WebSocket and fetch, and a view of its mailbox.
 * It shows incoming payments, their progress and the channel balance, read
 * through the wallet query API (`channels()`, `balances()`, `payments()`,
 * `openInProgress()`), never from the engine.
 *
 * Configuration comes from the page URL, since this is a demo page: a JSON
 * object in the hash (`#{"relay":…}`, URI-encoded), or the URL of a JSON
 * document in `?config=` (default `./config.json`). The keys in it are TEST
 * keys: a real wallet keeps its identity and channel keys in secure storage
 * (a platform keystore, or at least a non-extractable key wrapped by one)
 * and never takes them from a URL.
 *
 * Build: `node examples/browser-wallet/build.mjs <outdir>` (esbuild).
 */
import {
  Channel,
  type ChannelJson,
  EsploraChainSource,
  LevelKv,
  PayeeNode,
  type PaymentEvent,
  SingleKeyWallet,
  hexToBytes,
} from '../../client/index.js';

/** What the page needs to run the payee. */
interface WalletConfig {
  /** The relay of our mailbox (any origin: the relay answers CORS). */
  relay: string;
  /** Our mailbox address (`lnmb1…`), naming `relay`. */
  address: string;
  /** Identity (mailbox) secret key, hex. TEST KEY. */
  identityKey: string;
  /** Channel secret key, hex. TEST KEY. */
  channelKey: string;
  /** The hub's identity public key, hex. */
  hubKey: string;
  /** The hub's mailbox address. */
  hubAddress: string;
  /**
   * Our ready-made view of the channel with the hub at state 0 (test
   * set-ups, where one operator opened both sides); used only on the first
   * start: afterwards the state comes from IndexedDB. Without it the page
   * opens its channel over the mailbox (SPEC 6.17; the hub funds it), which
   * needs `esplora` and `open`.
   */
  channel?: ChannelJson;
  /** An Esplora HTTP API (the page's chain source); without it, a fixed `height`. */
  esplora?: string;
  /** The chain height when there is no `esplora`. */
  height?: number;
  /** The channel to ask the hub for when there is no `channel`. */
  open?: { amount: number; csvDelay: number };
  /** Secret key, hex, of the single-key wallet our channel pays out to on close. TEST KEY. */
  walletKey?: string;
  /** IndexedDB database name. Default `ln-mailbox-payee`. */
  db?: string;
  /** Keep at least this many receipt tickets published. Default 16. */
  tickets?: number;
}

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
};

function setStatus(state: string, text: string): void {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

function log(line: string): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  const ol = $('log');
  ol.append(li);
  ol.scrollTop = ol.scrollHeight;
}

async function loadConfig(): Promise<WalletConfig> {
  const hash = location.hash.slice(1);
  if (hash) return JSON.parse(decodeURIComponent(hash)) as WalletConfig;
  const url = new URLSearchParams(location.search).get('config') ?? './config.json';
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`config ${url}: HTTP ${res.status}`);
  return (await res.json()) as WalletConfig;
}

/** Redraws balance and payments through the wallet query API (the node's persisted state; no engine internals). */
async function render(node: PayeeNode, cfg: WalletConfig): Promise<void> {
  const [channel] = node.channels();
  const balance = $('balance');
  if (channel) {
    // What is ours whatever becomes of the payments in flight; what is coming in is shown apart.
    const { settled, inFlight } = node.balances();
    balance.dataset.sats = String(settled);
    balance.dataset.incoming = String(inFlight.incoming);
    balance.textContent = `${settled.toLocaleString('en-US')} sats${inFlight.incoming ? ` (+${inFlight.incoming.toLocaleString('en-US')} incoming)` : ''}`;
    $('channel').textContent = `${channel.channelId.slice(0, 16)}… ready, state #${channel.n}`;
  } else {
    const open = node.openInProgress();
    $('channel').textContent = open
      ? `opening (${open.status}; the hub funds it${open.funding ? ', waiting for confirmations' : ''})…`
      : 'no channel yet';
  }
  const rows = node.payments().map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.offer = p.offerId;
    const cells = [p.offerId.slice(0, 12) + '…', p.amount.toLocaleString('en-US'), p.memo, p.status];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 3) {
        td.className = 'status';
        td.dataset.status = p.status;
      }
      tr.append(td);
    }
    return tr;
  });
  $('payments').replaceChildren(...rows);
  const cursor = await node.client.cursor(cfg.relay).catch(() => -1);
  $('mailbox').textContent = `${node.client.address().slice(0, 16)}… on ${cfg.relay} (read up to #${cursor})`;
  const t = $('tickets');
  t.textContent = `${node.ticketsLeft()} unused${t.dataset.published === 'true' ? ', published' : ''}`;
}

async function main(): Promise<void> {
  const cfg = await loadConfig();
  $('address').textContent = cfg.address;
  const kv = new LevelKv(cfg.db ?? 'ln-mailbox-payee');
  const chainSource = cfg.esplora ? new EsploraChainSource(cfg.esplora) : undefined;
  const node = await PayeeNode.open({
    identityKey: hexToBytes(cfg.identityKey, 32),
    relays: [cfg.relay],
    kv,
    ownsStore: true,
    chain: chainSource ?? { height: () => cfg.height ?? 0 },
    ...(chainSource ? { chainPollMs: 1000, openPollMs: 500 } : {}),
    ...(chainSource && cfg.walletKey ? { fundingWallet: new SingleKeyWallet(hexToBytes(cfg.walletKey, 32), chainSource) } : {}),
    config: {
      address: cfg.address,
      channelKey: hexToBytes(cfg.channelKey, 32),
      hubKey: hexToBytes(cfg.hubKey, 32),
      hubAddress: cfg.hubAddress,
      timeoutDelta: 40,
      invoiceTtlMs: 3_600_000,
    },
    ...(cfg.channel ? { channel: Channel.fromJSON(cfg.channel) } : {}),
  });
  const redraw = () => void render(node, cfg).catch((e: unknown) => log(`render: ${String(e)}`));
  node.on('payment', (e: PaymentEvent) => {
    log(`payment ${e.kind}${'offerId' in e ? ` ${e.offerId.slice(0, 12)}…` : ''}${'amount' in e ? ` ${e.amount} sats` : ''}`);
    redraw();
  });
  node.on('received', (m) => log(`mailbox: message type 0x${m.type.toString(16).padStart(4, '0')} from ${m.from.slice(0, 12)}…`));
  node.on('error', (e) => log(`error: ${e.message}`));
  // The page may close at any time: every step is already in IndexedDB, and offers wait on the relay.
  window.addEventListener('pagehide', () => void node.close());
  redraw();
  if (node.channels().length === 0) {
    // A reload while the open is under way goes on with it rather than opening again.
    if (!node.openInProgress()) {
      if (!cfg.open) throw new Error('no channel: pass `channel`, or `open` (with `esplora` and `walletKey`)');
      setStatus('opening', 'opening the channel…');
      await node.openChannel(cfg.open);
    }
    await node.channelReady();
    log('channel ready');
    redraw();
  }
  setStatus('online', 'online: subscribed to the mailbox');
  // Payers need an unused receipt ticket to pay us while we are away (published on our relay).
  const target = cfg.tickets ?? 16;
  await node.publishTickets(target);
  $('tickets').dataset.published = 'true';
  log(`published ${node.ticketsLeft()} receipt tickets`);
  redraw();
  (window as unknown as { wallet: PayeeNode }).wallet = node;
}

main().catch((e: unknown) => {
  setStatus('failed', `failed: ${(e as Error)?.message ?? String(e)}`);
  log(String((e as Error)?.stack ?? e));
});
