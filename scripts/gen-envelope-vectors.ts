/**
 * Writes protocol/vectors/envelope.json from the pure generator.
 * Usage: node --import tsx scripts/gen-envelope-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateEnvelopeVectors } from './vectors/generate-envelope.js';

const out = fileURLToPath(new URL('../protocol/vectors/envelope.json', import.meta.url));
const vectors = generateEnvelopeVectors();
writeFileSync(out, JSON.stringify(vectors, null, 2) + '\n');
console.log(`wrote ${vectors.length} vectors to ${out}`);
