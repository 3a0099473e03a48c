/**
 * Writes protocol/vectors/receipt.json from the pure generator.
 * Usage: node --import tsx scripts/gen-receipt-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeMailboxAddress } from '../protocol/address.js';
import { VECTOR_RELAY, generateReceiptVectors } from './vectors/generate-receipt.js';

const out = fileURLToPath(new URL('../protocol/vectors/receipt.json', import.meta.url));
const vectors = generateReceiptVectors((publicKey) => encodeMailboxAddress({ publicKey, relays: [VECTOR_RELAY] }));
writeFileSync(out, JSON.stringify(vectors, null, 2) + '\n');
console.log(`wrote ${vectors.length} vectors to ${out}`);
