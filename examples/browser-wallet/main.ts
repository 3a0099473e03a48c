/**
 * A browser wallet (the payee, B) in one page: a {@link PayeeNode} over
 * IndexedDB (`LevelKv`: `level` resolves to browser-level in a browser
 * bundle), the browser's own WebSocket and fetch, and a view of its mailbox.
 * It shows incoming payments, their progress and the channel balance.
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
import { type ChannelJson, Channel, LevelKv, PayeeNode, type PaymentEvent, hexToBytes } from '../../client/index.js';

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
   * start: afterwards the state comes from IndexedDB.
   */
  channel?: ChannelJson;
  /** The chain height the demo runs at (no chain source in this page). */
  height: number;
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

/** Redraws balance and payments from the node's persisted state. */
async function render(node: PayeeNode, cfg: WalletConfig): Promise<void> {
  // TODO: read these through the wallet query API (`balances()`, `payments()`)
  // once it lands; until then the engine's state is read directly.
  const { channel, payments } = node.engine;
  const sats = channel.enforceable.state.balances[channel.me];
  const balance = $('balance');
  balance.dataset.sats = String(sats);
  balance.textContent = `${sats.toLocaleString('en-US')} sats`;
  const rows = [...payments.values()].map((p) => {
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
  const node = await PayeeNode.open({
    identityKey: hexToBytes(cfg.identityKey, 32),
    relays: [cfg.relay],
    kv,
    ownsStore: true,
    chain: { height: () => cfg.height },
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
  // The page may close whenever nothing is in flight: offers wait on the relay.
  window.addEventListener('pagehide', () => void node.close());
  redraw();
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
