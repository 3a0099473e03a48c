/** The client's persistent nonce store passes the same conformance suite as the in-memory one. */
import fs from 'node:fs';
import os from 'node:os';
import { LevelKv, MemoryKv } from '../../../client/mailbox/kv.js';
import { KvNonceStore } from '../../../client/wallet/nonce-store.js';
import { nonceStoreConformance } from '../../crypto/nonce-store-conformance.js';

nonceStoreConformance('KvNonceStore over MemoryKv', async () => ({ store: new KvNonceStore(new MemoryKv()) }));

nonceStoreConformance('KvNonceStore over LevelKv', async () => {
  const dir = fs.mkdtempSync(os.tmpdir() + '/lnmb-nonce-');
  let kv = new LevelKv(dir);
  return {
    store: new KvNonceStore(kv),
    reopen: async () => {
      await kv.close();
      kv = new LevelKv(dir);
      return new KvNonceStore(kv);
    },
    close: async () => {
      await kv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
