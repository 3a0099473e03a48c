/**
 * Idle subscribers row: as many authenticated, subscribed, idle
 * WebSockets as the file-descriptor limit allows (target 20,000) held by
 * one relay process, opened from two load processes; relay RSS measured
 * after a full GC before and after. Connections authenticate with session
 * tokens, `idleDevicesPerMailbox` devices per mailbox (SPEC 5 allows a
 * token on the socket), so the load processes need one signature per
 * mailbox rather than one per socket.
 * @module
 */
import { progress, startRelayProc, type Sizes } from './context.js';
import { row, type Row } from './report.js';
import { spawnWorker } from './rpc.js';

/** File descriptors kept free in the relay for LevelDB, stdio and the listening socket. */
const FD_RESERVE = 400;

interface Usage {
  rss: number;
  heapUsed: number;
  connections: number;
}

/** Idle-subscriber rows. */
export async function benchIdle(s: Sizes, fdLimit: number | null): Promise<Row[]> {
  const want = s.idle;
  const n = fdLimit === null ? want : Math.min(want, fdLimit - FD_RESERVE);
  const relay = await startRelayProc(['--expose-gc']);
  const loaders = [spawnWorker('load/ws.ts'), spawnWorker('load/ws.ts')];
  try {
    const mailboxes = Math.ceil(n / s.idleDevicesPerMailbox);
    const creds = await loaders[0]!.call<{ mailbox: string; token: string }[]>('tokens', relay.url, mailboxes);
    const before = await relay.worker.call<Usage>('usage', true);
    const half = Math.ceil(n / 2);
    const parts = await Promise.all([
      loaders[0]!.call<{ opened: number; failed: number; firstError?: string }>(
        'hold',
        relay.url,
        creds.slice(0, Math.ceil(mailboxes / 2)),
        half,
      ),
      loaders[1]!.call<{ opened: number; failed: number; firstError?: string }>(
        'hold',
        relay.url,
        creds.slice(Math.ceil(mailboxes / 2)),
        n - half,
      ),
    ]);
    const opened = parts.reduce((a, p) => a + p.opened, 0);
    const failed = parts.reduce((a, p) => a + p.failed, 0);
    await new Promise((r) => setTimeout(r, 500));
    const after = await relay.worker.call<Usage>('usage', true);
    const perConn = (after.rss - before.rss) / opened;
    const heapPerConn = (after.heapUsed - before.heapUsed) / opened;
    progress(
      `idle: ${opened} held (relay counts ${after.connections}), ${failed} failed ${parts.map((p) => p.firstError ?? '').join(' ')}; RSS +${(perConn / 1024).toFixed(2)} KiB/conn, heap +${(heapPerConn / 1024).toFixed(2)} KiB/conn`,
    );
    const sized = n < want ? ` (${n.toLocaleString('en-US')} attempted of ${want.toLocaleString('en-US')}: fd limit ${fdLimit})` : '';
    const note = `${failed} failed; relay-side connections ${after.connections}; heap growth ${(heapPerConn / 1024).toFixed(2)} KiB/conn; ${mailboxes} mailboxes × ${s.idleDevicesPerMailbox} devices`;
    return [
      row({
        name: `authenticated idle subscribers held by one relay${sized}`,
        value: after.connections,
        unit: 'conns',
        baseline: null,
        baselineValue: null,
        target: '20,000',
        pass: s.quick ? null : after.connections >= 20_000,
        note,
      }),
      row({
        name: 'relay RSS growth per idle subscriber',
        value: perConn / 1024,
        unit: 'KiB',
        baseline: null,
        baselineValue: null,
        target: '≤ 16 KiB',
        pass: perConn / 1024 <= 16,
        note,
      }),
    ];
  } finally {
    await Promise.all(loaders.map((l) => l.call('release').catch(() => undefined)));
    await Promise.all(loaders.map((l) => l.stop()));
    await relay.stop();
  }
}
