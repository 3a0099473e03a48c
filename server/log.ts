/**
 * Structured JSON logs (pino). The relay logs lifecycle events, refusals and
 * faults, never key material, tokens, signatures, challenges or envelope
 * bytes: request logs carry the route
 * pattern, not the path, so mailbox and envelope ids stay out too.
 * @module
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * Keys redacted wherever they appear in a log object, as a second line of
 * defence behind "don't log it": anything that could grant access or carry
 * ciphertext.
 */
const REDACT = [
  'token',
  'signature',
  'challenge',
  'secret',
  'envelope',
  'authorization',
  '*.token',
  '*.signature',
  '*.challenge',
  '*.secret',
  '*.envelope',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-mailbox-retraction-secret"]',
];

/** Creates the relay's logger writing JSON lines to stdout (or `destination`). */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const opts: pino.LoggerOptions = {
    level,
    base: { service: 'ln-mailbox-relay' },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination ? pino(opts, destination) : pino(opts);
}
