/**
 * Test fixtures for the client suites: a real relay on an ephemeral loopback
 * port with real LevelDB in a temp dir (restartable on the same port and data
 * dir), real sealed envelopes, and polling helpers.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { schnorr } from '@noble/curves/secp256k1.js';
import { seal } from '../../../protocol/seal.js';
import { startRelay } from '../../../server/relay.js';

/** The relay options a test may override. */
export type RelayOverrides = Omit<Parameters<typeof startRelay>[0], 'host' | 'port' | 'dataDir' | 'logLevel'>;

/** A relay that can be stopped and started again on the same port and data dir. */
export class TestRelay {
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-'));
  port = 0;
  #relay: Awaited<ReturnType<typeof startRelay>> | undefined;
  constructor(readonly overrides: RelayOverrides = {}) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.#relay = await startRelay({ ...this.overrides, host: '127.0.0.1', port: this.port, dataDir: this.dataDir, logLevel: 'silent' });
    this.port = this.#relay.port;
    return this;
  }

  async stop(): Promise<void> {
    const r = this.#relay;
    this.#relay = undefined;
    await r?.close();
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A loopback port nobody listens on. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A fresh mailbox key pair. */
export function newKey(): { sk: Uint8Array; pk: Uint8Array } {
  const sk = schnorr.utils.randomSecretKey();
  return { sk, pk: schnorr.getPublicKey(sk) };
}

const sender = newKey();

/** A real sealed envelope for `recipient` carrying `text`. */
export function sealed(recipient: Uint8Array, text: string): Uint8Array {
  return seal({ senderSecretKey: sender.sk, recipient, type: 0x8000, body: new TextEncoder().encode(text) });
}

/** Polls `cond` every 10 ms until true; throws after `ms` (a safety net, not a timing assertion). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A temp dir for a client's LevelKv. */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lnmb-'));
}
