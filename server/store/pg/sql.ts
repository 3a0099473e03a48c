/**
 * Every SQL statement of the PostgreSQL relay store except the schema
 * (`schema.ts`), built once per schema. Names come from {@link pgNames}
 * (validated identifiers); every value is a bind parameter.
 * @module
 */
import { EnvelopeState, MAX_STORED_INT } from '../lifecycle.js';
import { RECORD_LOCK_CLASS, usagePayload, type PgNames } from './schema.js';

/** The statements, by use. */
export type PgStatements = ReturnType<typeof pgStatements>;

/** Builds the statements for one schema. */
export function pgStatements(n: PgNames) {
  return {
    loadCounters: `SELECT mailbox, last_seq, live_count, live_bytes, version FROM ${n.mailboxes}`,
    append: `SELECT * FROM ${n.append}($1::bytea[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bytea[], $6::bigint[], $7::bigint[])`,
    fetchRanges: `SELECT e.mailbox, e.seq, e.id, e.body, e.expires_at
     FROM unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS q(mailbox, lo, hi)
     JOIN ${n.envelopes} e ON e.mailbox = q.mailbox AND e.seq > q.lo AND e.seq <= q.hi
    WHERE e.state = ${EnvelopeState.live} AND NOT (e.id = ANY($4::bytea[]))
    ORDER BY e.mailbox, e.seq`,
    list: `WITH page AS (
      SELECT id, seq, expires_at,
             coalesce(sum(size) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
        FROM ${n.envelopes}
       WHERE mailbox = $1 AND seq > $2 AND state = ${EnvelopeState.live} AND expires_at > $3
       ORDER BY seq LIMIT $4)
    SELECT p.id, p.seq, p.expires_at, p.before,
           CASE WHEN $5::bigint IS NULL OR p.before < $5::bigint THEN e.body END AS body
      FROM page p JOIN ${n.envelopes} e ON e.id = p.id
     ORDER BY p.seq`,
    markDelivered: `UPDATE ${n.envelopes} SET delivered = true WHERE id = ANY($1::bytea[]) AND state = ${EnvelopeState.live} AND NOT delivered`,
    tombstone: `WITH gone AS (
      UPDATE ${n.envelopes} SET state = $3, body = NULL, delivered = false
       WHERE id = ANY($1::bytea[]) AND state = ${EnvelopeState.live} AND ($2::bytea IS NULL OR mailbox = $2::bytea)
       RETURNING id, mailbox, size),
    agg AS (SELECT mailbox, count(*) AS n, sum(size) AS b FROM gone GROUP BY mailbox),
    upd AS (
      UPDATE ${n.mailboxes} m SET live_count = m.live_count - agg.n, live_bytes = m.live_bytes - agg.b, version = m.version + 1
        FROM agg WHERE m.mailbox = agg.mailbox
       RETURNING m.*),
    note AS (SELECT pg_notify('${n.usageChannel}', ${usagePayload('upd')}) FROM upd)
    SELECT 'id' AS kind, id AS mailbox, 0::bigint AS last_seq, 0::bigint AS live_count, 0::bigint AS live_bytes, 0::bigint AS version FROM gone
    UNION ALL SELECT 'usage', mailbox, last_seq, live_count, live_bytes, version FROM upd
    UNION ALL SELECT 'note', NULL, count(*), 0, 0, 0 FROM note`,
    retractRow: `SELECT state, expires_at, retraction_hash FROM ${n.envelopes} WHERE id = $1 FOR UPDATE`,
    status: `SELECT state, expires_at, delivered FROM ${n.envelopes} WHERE id = $1`,
    sweepDue: `WITH due AS (
      SELECT id, state FROM ${n.envelopes} WHERE deadline <= $1 ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED),
    exp AS (
      UPDATE ${n.envelopes} e SET state = ${EnvelopeState.expired}, body = NULL, delivered = false,
             deadline = LEAST(e.expires_at + $3::bigint, ${MAX_STORED_INT})
        FROM due WHERE e.id = due.id AND due.state = ${EnvelopeState.live} AND e.expires_at <= $1
      RETURNING e.mailbox, e.size),
    pur AS (DELETE FROM ${n.envelopes} e USING due WHERE e.id = due.id AND due.state <> ${EnvelopeState.live} RETURNING e.id)
    SELECT (SELECT count(*) FROM due) AS due, (SELECT count(*) FROM pur) AS purged,
           (SELECT coalesce(array_agg(mailbox ORDER BY mailbox), '{}') FROM (SELECT mailbox FROM exp GROUP BY mailbox) m) AS mailboxes,
           (SELECT coalesce(array_agg(n ORDER BY mailbox), '{}') FROM (SELECT mailbox, count(*) AS n FROM exp GROUP BY mailbox) m) AS counts,
           (SELECT coalesce(array_agg(b ORDER BY mailbox), '{}') FROM (SELECT mailbox, sum(size) AS b FROM exp GROUP BY mailbox) m) AS sizes`,
    recordLock: `SELECT pg_advisory_xact_lock(${RECORD_LOCK_CLASS}, hashtext(encode($1::bytea, 'hex')))`,
    recordNames: `SELECT name FROM ${n.records} WHERE mailbox = $1 ORDER BY name COLLATE "C"`,
    putRecord: `INSERT INTO ${n.records} (mailbox, name, value) VALUES ($1, $2, $3)
      ON CONFLICT (mailbox, name) DO UPDATE SET value = EXCLUDED.value`,
    getRecord: `SELECT value FROM ${n.records} WHERE mailbox = $1 AND name = $2`,
    deleteRecord: `DELETE FROM ${n.records} WHERE mailbox = $1 AND name = $2`,
    lockMailboxes: `SELECT 1 FROM ${n.mailboxes} WHERE mailbox = ANY($1::bytea[]) ORDER BY mailbox FOR UPDATE`,
    sweepCounters: `WITH upd AS (
      UPDATE ${n.mailboxes} m SET live_count = m.live_count - q.n, live_bytes = m.live_bytes - q.b, version = m.version + 1
        FROM unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS q(mailbox, n, b)
       WHERE m.mailbox = q.mailbox
      RETURNING m.*),
    note AS (SELECT pg_notify('${n.usageChannel}', ${usagePayload('upd')}) FROM upd)
    SELECT upd.*, (SELECT count(*) FROM note) AS notified FROM upd`,
  } as const;
}
