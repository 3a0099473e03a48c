/**
 * In-process worlds for role runtimes that open their channels over the
 * mailbox: a real relay on loopback, the chain simulator served over the
 * Esplora HTTP routes, funded single-key wallets, and the keys and addresses
 * of a payer (A), a hub (S) and a payee (B). The roles themselves are opened
 * by each test, with the options it is about.
 */
import fs from 'node:fs';
import { encodeMailboxAddress } from '../../protocol/address.js';
import { EsploraChainSource } from '../../client/chain/esplora.js';
import { SingleKeyWallet } from '../../client/chain/single-key-wallet.js';
import { randomSecretKey } from '../../crypto/bip340.js';
import { ChainModel } from '../../sim/chain-model.js';
import { startEsploraServer, type EsploraServer } from '../../sim/esplora-server.js';
import { startTestRelay, type TestRelay } from '../server/relay-harness.js';
import { keys, type RoleKeys } from './world.js';

/** What {@link startChainWorld} gives a test. */
export interface ChainWorld {
  relay: TestRelay;
  model: ChainModel;
  esplora: EsploraServer;
  /** A new Esplora client of the simulated chain. */
  source(): EsploraChainSource;
  /** A single-key wallet on the simulated chain, holding `funds` sats (none when 0). */
  wallet(funds: number): SingleKeyWallet;
  A: RoleKeys;
  S: RoleKeys;
  B: RoleKeys;
  /** The mailbox address of a role on the world's relay. */
  addr(k: { idPk: Uint8Array }): string;
  /** A wallet role's hub configuration (the hub S, the role's own channel key). */
  hubConfig(k: RoleKeys): { hubKey: Uint8Array; hubAddress: string; channelKey: Uint8Array };
  /** Stops the chain server and the relay and removes the roles' store directories (close the roles first). */
  close(): Promise<void>;
}

/** Starts a relay and the simulated chain at height 800 (minimum fee rate 1 sat/vB), with fresh keys for A, S and B. */
export async function startChainWorld(): Promise<ChainWorld> {
  // The roles sign relay auth with the real clock: the relay runs on it too.
  const relay = await startTestRelay({ now: () => Date.now() });
  const model = new ChainModel({ height: 800, minFeeRate: 1 });
  const esplora = await startEsploraServer(model);
  const source = () => new EsploraChainSource(esplora.url);
  const [A, S, B] = [keys(), keys(), keys()];
  const addr = (k: { idPk: Uint8Array }) => encodeMailboxAddress({ publicKey: k.idPk, relays: [relay.url] });
  return {
    relay,
    model,
    esplora,
    source,
    wallet: (funds) => {
      const w = new SingleKeyWallet(randomSecretKey(), source(), { minConfirmations: 1 });
      if (funds > 0) model.fundScript(w.scriptPubKey, funds);
      return w;
    },
    A,
    S,
    B,
    addr,
    hubConfig: (k) => ({ hubKey: S.idPk, hubAddress: addr(S), channelKey: k.chSk }),
    close: async () => {
      await esplora.close();
      await relay.close();
      for (const k of [A, S, B]) fs.rmSync(k.dir, { recursive: true, force: true });
    },
  };
}
