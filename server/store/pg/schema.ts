/**
 * SQL schema of the PostgreSQL relay store (SPEC section 5.12, "Storage
 * contract"; the layout is private to this backend, like `../level/records.ts`
 * is to the LevelDB one; the state numbers are `../lifecycle.ts`'s).
 *
 *   envelopes(id PK, mailbox, seq, body, size, expires_at, retraction_hash,
 *             state, delivered, deadline)        one row per envelope, live or tombstone
 *   mailboxes(mailbox PK, last_seq, live_count, live_bytes, version)
 *   records(mailbox, name, value; PK mailbox+name) the mailbox records (SPEC 5.13)
 *   meta(key PK, value)                          holds `schema_version`
 *
 * Versions: 1 is envelopes and mailboxes; 2 adds `records` (additive: the
 * DDL below creates it in a version-1 database and raises the stored
 * version, after which a version-1 relay refuses that database).
 *
 * Appends go through one PL/pgSQL function, so the whole read-check-write is
 * ONE round trip and ONE transaction for a whole batch of appends (a NOTIFYing
 * commit takes a database-wide lock until its WAL flush, so PostgreSQL
 * cannot group-commit them: batching is what buys throughput). Per item it
 * row-locks the mailbox's counter
 * (`SELECT … FOR UPDATE`), so appends to one mailbox from any number of relay
 * processes run one after the other; under that lock it checks the id for a
 * duplicate, checks the quota, takes `last_seq + 1`, inserts the envelope and
 * queues the doorbell `NOTIFY`. Seqs are therefore gap-free (an aborted
 * append never consumed one, unlike a SEQUENCE), the quota cannot be
 * overshot, and notifications of one mailbox are delivered in seq order
 * (PostgreSQL delivers notifications in commit order, and the lock orders
 * the commits).
 *
 * Times are ms since the epoch in BIGINT; `deadline` is the sweep index:
 * the expiry of a live envelope or of an ack/retract tombstone, the end of
 * retention of an `expired` tombstone.
 * @module
 */
import { EnvelopeState } from '../lifecycle.js';

/** Version of the schema this code writes; a database with a higher one is refused. */
export const SCHEMA_VERSION = 2;

/** Advisory lock key taken while creating the schema, so instances starting together do not race on DDL. */
export const SCHEMA_LOCK_KEY = 0x6c6e6d62; // "lnmb"

/**
 * First key of the two-key advisory lock a record put takes per mailbox
 * (the second is a hash of the mailbox), so that puts from any instance
 * cannot overshoot the record limit. Two-key locks never collide with the
 * one-key {@link SCHEMA_LOCK_KEY}.
 */
export const RECORD_LOCK_CLASS = 0x6c6e6d72; // "lnmr"

/** Quoted, schema-qualified names used by every statement. */
export interface PgNames {
  schema: string;
  envelopes: string;
  mailboxes: string;
  meta: string;
  records: string;
  append: string;
  /** NOTIFY channel of appends (payload `mailbox:seq:id:count:bytes:version`). */
  appendChannel: string;
  /** NOTIFY channel of other counter changes (payload `mailbox:lastSeq:count:bytes:version`). */
  usageChannel: string;
}

/** Schema names: plain SQL identifiers only, so they can be spliced into statements safely. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/**
 * Names for one schema. The default schema `public` uses the channels
 * `ln_mailbox_append` / `ln_mailbox_usage`; another schema suffixes them
 * with its name, because NOTIFY channels are per database, not per schema.
 */
export function pgNames(schema: string): PgNames {
  const q = (n: string) => `"${schema}".${n}`;
  const suffix = schema === 'public' ? '' : `__${schema}`;
  return {
    schema,
    envelopes: q('lnmb_envelopes'),
    mailboxes: q('lnmb_mailboxes'),
    meta: q('lnmb_meta'),
    records: q('lnmb_records'),
    append: q('lnmb_append'),
    appendChannel: `ln_mailbox_append${suffix}`,
    usageChannel: `ln_mailbox_usage${suffix}`,
  };
}

/** SQL expression of a mailbox row's usage payload (`mailbox:lastSeq:count:bytes:version`). */
export function usagePayload(alias: string): string {
  return `encode(${alias}.mailbox, 'hex') || ':' || ${alias}.last_seq || ':' || ${alias}.live_count || ':' || ${alias}.live_bytes || ':' || ${alias}.version`;
}

/** Idempotent DDL (run under the advisory lock, in one transaction). */
export function schemaDdl(n: PgNames): string {
  return `
CREATE SCHEMA IF NOT EXISTS "${n.schema}";
CREATE TABLE IF NOT EXISTS ${n.meta} (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS ${n.mailboxes} (
  mailbox bytea PRIMARY KEY CHECK (octet_length(mailbox) = 32),
  last_seq bigint NOT NULL DEFAULT 0,
  live_count bigint NOT NULL DEFAULT 0,
  live_bytes bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ${n.envelopes} (
  id bytea PRIMARY KEY CHECK (octet_length(id) = 32),
  mailbox bytea NOT NULL,
  seq bigint NOT NULL,
  body bytea,
  size integer NOT NULL,
  expires_at bigint NOT NULL,
  retraction_hash bytea,
  state smallint NOT NULL,
  delivered boolean NOT NULL DEFAULT false,
  deadline bigint NOT NULL,
  UNIQUE (mailbox, seq)
);
CREATE INDEX IF NOT EXISTS lnmb_envelopes_deadline ON ${n.envelopes} (deadline);
CREATE TABLE IF NOT EXISTS ${n.records} (
  mailbox bytea NOT NULL CHECK (octet_length(mailbox) = 32),
  name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 32),
  value bytea NOT NULL,
  PRIMARY KEY (mailbox, name)
);
INSERT INTO ${n.meta} (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}') ON CONFLICT (key) DO NOTHING;
UPDATE ${n.meta} SET value = '${SCHEMA_VERSION}' WHERE key = 'schema_version' AND value::integer < ${SCHEMA_VERSION};

CREATE OR REPLACE FUNCTION ${n.append}(
  p_ids bytea[], p_mailboxes bytea[], p_bodies bytea[], p_expires_at bigint[], p_retraction_hashes bytea[],
  p_max_count bigint[], p_max_bytes bigint[]
) RETURNS TABLE (idx integer, outcome text, seq bigint, expires_at bigint, last_seq bigint, live_count bigint, live_bytes bigint, version bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  i integer;
  c ${n.mailboxes}%ROWTYPE;
  e record;
  sz bigint;
BEGIN
  -- Mailboxes are locked in ascending order, so two batches (from any
  -- instances) can never wait on each other in a cycle; one mailbox's items
  -- keep their submission order.
  FOR i IN SELECT t.ord FROM unnest(p_mailboxes) WITH ORDINALITY AS t(mb, ord) ORDER BY t.mb, t.ord LOOP
    sz := octet_length(p_bodies[i]);
    INSERT INTO ${n.mailboxes} AS m (mailbox) VALUES (p_mailboxes[i]) ON CONFLICT (mailbox) DO NOTHING;
    -- The row lock serializes appends to this mailbox across every relay instance.
    SELECT * INTO c FROM ${n.mailboxes} AS m WHERE m.mailbox = p_mailboxes[i] FOR UPDATE;
    -- READ COMMITTED: this statement sees every append committed before we got the lock.
    SELECT v.seq, v.expires_at INTO e FROM ${n.envelopes} AS v WHERE v.id = p_ids[i];
    IF FOUND THEN
      RETURN QUERY SELECT i, 'duplicate'::text, e.seq, e.expires_at, c.last_seq, c.live_count, c.live_bytes, c.version;
    ELSIF c.live_count + 1 > p_max_count[i] THEN
      RETURN QUERY SELECT i, 'full_count'::text, 0::bigint, 0::bigint, c.last_seq, c.live_count, c.live_bytes, c.version;
    ELSIF c.live_bytes + sz > p_max_bytes[i] THEN
      RETURN QUERY SELECT i, 'full_bytes'::text, 0::bigint, 0::bigint, c.last_seq, c.live_count, c.live_bytes, c.version;
    ELSE
      UPDATE ${n.mailboxes} AS m
         SET last_seq = m.last_seq + 1, live_count = m.live_count + 1, live_bytes = m.live_bytes + sz, version = m.version + 1
       WHERE m.mailbox = p_mailboxes[i]
       RETURNING m.* INTO c;
      INSERT INTO ${n.envelopes} (id, mailbox, seq, body, size, expires_at, retraction_hash, state, delivered, deadline)
      VALUES (p_ids[i], p_mailboxes[i], c.last_seq, p_bodies[i], sz, p_expires_at[i], p_retraction_hashes[i], ${EnvelopeState.live}, false, p_expires_at[i]);
      -- Queued now, sent by PostgreSQL only if and when this transaction commits.
      PERFORM pg_notify('${n.appendChannel}',
        encode(p_mailboxes[i], 'hex') || ':' || c.last_seq || ':' || encode(p_ids[i], 'hex') || ':' || c.live_count || ':' || c.live_bytes || ':' || c.version);
      RETURN QUERY SELECT i, 'created'::text, c.last_seq, p_expires_at[i], c.last_seq, c.live_count, c.live_bytes, c.version;
    END IF;
  END LOOP;
END
$fn$;
`;
}
