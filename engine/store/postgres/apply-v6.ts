/**
 * Schema v6: `sagad_apply` with the same arguments, outcomes and guarantees as v5
 * (apply-sql.ts), and less work per input: what decides each input's fate (its inbox id, its
 * fired timer, its new instances, the versions of its instances) is a handful of statements
 * for the whole batch instead of a loop of statements per input; the child rows are filtered
 * by a lookup in a boolean array instead of a search of the list of committed inputs; and the
 * function runs with sequential scans off, so that no cached plan ever reads a whole table
 * (a plan made while a table was small, before autovacuum first analyzed it, used to scan the
 * growing timers and instances tables for every batch).
 *
 * Refusals stay exact but for one case: an input refused after its new instance was inserted
 * (a stale version of another instance it writes) now removes that instance only after the
 * whole batch's instances were inserted, so a later input of the same batch creating the same
 * saga key is refused too. A refusal is a conflict, which the engine decides again, so this
 * costs a retry in a case that needs two writers racing for one key, nothing more.
 */
export const APPLY_FUNCTION_V6 = `
CREATE OR REPLACE FUNCTION sagad_apply(inputs jsonb, lock_ids text[], now_ms bigint, rows jsonb) RETURNS jsonb LANGUAGE plpgsql
SET enable_seqscan = off AS $fn$
DECLARE
  versions jsonb;
  fresh text[];
  pass boolean[];
  inbox_ok boolean[];
  gone bigint[];
  fired jsonb;
  new_ids text[];
  conflicts text[];
  okm boolean[];
  all_ok boolean;
  undo_inbox text[];
  outcomes jsonb;
  seqs jsonb := '{}'::jsonb;
  prior jsonb := '{}'::jsonb;
  writes_to text[];
  answered text[];
BEGIN
  SELECT coalesce(jsonb_object_agg(l.id, l.version), '{}'::jsonb) INTO versions
    FROM (SELECT id, version FROM instances WHERE id = ANY (lock_ids) ORDER BY id FOR UPDATE) l;
  WITH ins AS (
    INSERT INTO inbox (message_id, at)
      SELECT DISTINCT x.value->>'m', now_ms FROM jsonb_array_elements(inputs) x WHERE x.value->>'m' IS NOT NULL ORDER BY 1
      ON CONFLICT DO NOTHING RETURNING message_id)
  SELECT coalesce(array_agg(message_id), '{}') INTO fresh FROM ins;

  -- An input passes its inbox check when it has no message id, or is the first of the batch
  -- with an id this call inserted.
  SELECT array_agg(s.ok ORDER BY s.ord) INTO pass FROM (
    SELECT x.ordinality AS ord,
      x.value->>'m' IS NULL OR (x.value->>'m' = ANY (fresh) AND x.ordinality = min(x.ordinality) OVER (PARTITION BY x.value->>'m')) AS ok
    FROM jsonb_array_elements(inputs) WITH ORDINALITY x) s;
  inbox_ok := pass;

  -- Fired timers: each must still be there at its due time, else the input is a duplicate (the
  -- first input naming a timer gets it). The rows are kept to put back for a refused input.
  IF EXISTS (SELECT FROM jsonb_array_elements(inputs) x WHERE jsonb_typeof(x.value->'t') = 'object') THEN
    WITH f AS (
      SELECT x.ordinality AS ord, x.value->'t'->>'i' AS i, x.value->'t'->>'t' AS t, (x.value->'t'->>'d')::bigint AS d
      FROM jsonb_array_elements(inputs) WITH ORDINALITY x WHERE jsonb_typeof(x.value->'t') = 'object' AND pass[x.ordinality]),
    del AS (
      DELETE FROM timers tm USING f WHERE tm.instance_id = f.i AND tm.timer_id = f.t AND tm.due_at = f.d
      RETURNING tm.instance_id, tm.timer_id, tm.due_at, tm.data, tm.claimed_until),
    got AS (
      SELECT f.ord, to_jsonb(del) AS row, f.ord = min(f.ord) OVER (PARTITION BY f.i, f.t, f.d) AS first
      FROM f LEFT JOIN del ON del.instance_id = f.i AND del.timer_id = f.t AND del.due_at = f.d)
    SELECT coalesce(jsonb_object_agg(got.ord::text, got.row) FILTER (WHERE got.row IS NOT NULL AND got.first), '{}'::jsonb),
      coalesce(array_agg(got.ord) FILTER (WHERE got.row IS NULL OR NOT got.first), '{}')
      INTO fired, gone FROM got;
    FOR i IN 1 .. coalesce(array_length(gone, 1), 0) LOOP
      pass[gone[i]] := false;
    END LOOP;
  ELSE
    fired := '{}'::jsonb;
  END IF;

  -- New instances of the inputs still in the running, in batch order: a taken id or saga key
  -- (by an earlier input too) inserts nothing.
  WITH ins AS (
    INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
      SELECT c->>'id', c->>'saga', c->>'hash', c->>'key', c->>'corr', c->>'st', (c->>'ca')::bigint, (c->>'ua')::bigint, (c->>'ver')::integer, c->>'s'
      FROM (SELECT x.ordinality AS ord, ch.ordinality AS k, ch.value AS c
            FROM jsonb_array_elements(inputs) WITH ORDINALITY x, jsonb_array_elements(x.value->'c') WITH ORDINALITY ch
            WHERE pass[x.ordinality] AND (ch.value->>'v')::integer = 0) n
      ORDER BY n.ord, n.k
      ON CONFLICT DO NOTHING RETURNING id)
  SELECT coalesce(array_agg(id), '{}') INTO new_ids FROM ins;

  -- Per input: null (committed), 'd' (duplicate) or the first instance it conflicts on.
  SELECT array_agg(CASE WHEN NOT pass[x.ordinality] THEN 'd' ELSE (
      SELECT ch.value->>'id' FROM jsonb_array_elements(x.value->'c') WITH ORDINALITY ch
      WHERE CASE WHEN (ch.value->>'v')::integer = 0 THEN NOT (ch.value->>'id' = ANY (new_ids))
                 ELSE (versions->>(ch.value->>'id'))::integer IS DISTINCT FROM (ch.value->>'v')::integer END
      ORDER BY ch.ordinality LIMIT 1) END ORDER BY x.ordinality)
    INTO conflicts FROM jsonb_array_elements(inputs) WITH ORDINALITY x;
  okm := ARRAY(SELECT v IS NULL FROM unnest(conflicts) v);
  all_ok := NOT (false = ANY (okm));

  IF NOT all_ok THEN
    -- Undone by hand, without a subtransaction: the refused inputs' new instances, fired
    -- timers and inbox ids (a duplicate by its inbox id inserted none).
    DELETE FROM instances WHERE id = ANY (ARRAY(
      SELECT ch.value->>'id' FROM jsonb_array_elements(inputs) WITH ORDINALITY x, jsonb_array_elements(x.value->'c') ch
      WHERE conflicts[x.ordinality] IS NOT NULL AND conflicts[x.ordinality] <> 'd' AND (ch.value->>'v')::integer = 0 AND ch.value->>'id' = ANY (new_ids)));
    INSERT INTO timers (instance_id, timer_id, due_at, data, claimed_until)
      SELECT r.instance_id, r.timer_id, r.due_at, r.data, r.claimed_until
      FROM jsonb_each(fired) f, jsonb_populate_record(NULL::timers, f.value) r
      WHERE conflicts[f.key::integer] IS NOT NULL;
    undo_inbox := ARRAY(
      SELECT x.value->>'m' FROM jsonb_array_elements(inputs) WITH ORDINALITY x
      WHERE x.value->>'m' IS NOT NULL AND inbox_ok[x.ordinality] AND conflicts[x.ordinality] IS NOT NULL);
    IF cardinality(undo_inbox) > 0 THEN DELETE FROM inbox WHERE message_id = ANY (undo_inbox); END IF;
  END IF;
  SELECT jsonb_agg(CASE WHEN v IS NULL THEN '"c"'::jsonb WHEN v = 'd' THEN '"d"'::jsonb ELSE jsonb_build_object('x', v) END ORDER BY o)
    INTO outcomes FROM unnest(conflicts) WITH ORDINALITY u(v, o);
  IF NOT (true = ANY (okm)) THEN RETURN jsonb_build_object('r', coalesce(outcomes, '[]'::jsonb), 's', seqs, 'p', prior); END IF;

  IF rows ? 'u' THEN
    UPDATE instances i SET status = r.value->>2, updated_at = (r.value->>3)::bigint, version = (r.value->>4)::integer, state = r.value->>5
      FROM jsonb_array_elements(rows->'u') r WHERE i.id = r.value->>1 AND (all_ok OR okm[(r.value->>0)::integer]);
  END IF;
  IF rows ? 'e' THEN
    INSERT INTO journal (instance_id, seq, type, type_version, at, data)
      SELECT r.value->>1, (r.value->>2)::integer, r.value->>3, (r.value->>4)::smallint, (r.value->>5)::bigint, r.value->>6
      FROM jsonb_array_elements(rows->'e') r WHERE all_ok OR okm[(r.value->>0)::integer];
  END IF;
  IF rows ? 's' THEN
    INSERT INTO snapshots (instance_id, version, state)
      SELECT r.value->>1, (r.value->>2)::integer, r.value->>3 FROM jsonb_array_elements(rows->'s') r WHERE all_ok OR okm[(r.value->>0)::integer]
      ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state;
  END IF;
  IF rows ? 'tc' THEN
    DELETE FROM timers t USING jsonb_array_elements(rows->'tc') r
      WHERE (all_ok OR okm[(r.value->>0)::integer]) AND t.instance_id = r.value->>1 AND t.timer_id = r.value->>2;
  END IF;
  IF rows ? 'tp' THEN
    INSERT INTO timers (instance_id, timer_id, due_at, data)
      SELECT r.value->>1, r.value->>2, (r.value->>3)::bigint, r.value->>4 FROM jsonb_array_elements(rows->'tp') r WHERE all_ok OR okm[(r.value->>0)::integer]
      ON CONFLICT (instance_id, timer_id) DO UPDATE SET due_at = excluded.due_at, data = excluded.data, claimed_until = NULL;
  END IF;
  IF rows ? 'cm' THEN
    INSERT INTO commands (command_id, instance_id, step, kind)
      SELECT r.value->>1, r.value->>2, r.value->>3, r.value->>4 FROM jsonb_array_elements(rows->'cm') r WHERE all_ok OR okm[(r.value->>0)::integer]
      ON CONFLICT DO NOTHING;
  END IF;
  IF rows ? 'wr' THEN
    DELETE FROM waits x USING jsonb_array_elements(rows->'wr') r
      WHERE (all_ok OR okm[(r.value->>0)::integer]) AND x.instance_id = r.value->>1 AND x.step = r.value->>2;
  END IF;
  IF rows ? 'wp' THEN
    INSERT INTO waits (instance_id, step, subject, type)
      SELECT r.value->>1, r.value->>2, r.value->>3, r.value->>4 FROM jsonb_array_elements(rows->'wp') r WHERE all_ok OR okm[(r.value->>0)::integer]
      ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type;
  END IF;
  IF rows ? 'o' THEN
    writes_to := ARRAY(SELECT DISTINCT r.value->>5 FROM jsonb_array_elements(rows->'o') r WHERE all_ok OR okm[(r.value->>0)::integer]);
    answered := ARRAY(SELECT jsonb_array_elements_text(x.value->'a') FROM jsonb_array_elements(inputs) x WHERE x.value ? 'a');
    -- Planned at every call (EXECUTE): a plan cached while the outbox was small reads every
    -- unsent row through outbox_unsent, however long the backlog has grown since.
    EXECUTE 'SELECT coalesce(jsonb_object_agg(p.instance_id, p.seqs), ''{}''::jsonb) FROM (
      SELECT q.instance_id, jsonb_agg(q.seq ORDER BY q.seq) AS seqs FROM (
        SELECT o.instance_id, o.seq, max(o.seq) FILTER (WHERE o.message_id = ANY ($2)) OVER (PARTITION BY o.instance_id) AS upto
        FROM outbox o WHERE o.instance_id = ANY ($1) AND o.sent_at IS NULL) q
      WHERE q.upto IS NULL OR q.seq > q.upto GROUP BY q.instance_id) p' INTO prior USING writes_to, answered;
    WITH ins AS (
      INSERT INTO outbox (message_id, subject, headers, data, created_at, instance_id)
        SELECT r.value->>1, r.value->>2, r.value->>3, decode(r.value->>4, 'base64'), now_ms, r.value->>5
        FROM jsonb_array_elements(rows->'o') WITH ORDINALITY r WHERE all_ok OR okm[(r.value->>0)::integer] ORDER BY r.ordinality
        ON CONFLICT (message_id) DO NOTHING
        RETURNING message_id, seq)
    SELECT coalesce(jsonb_object_agg(message_id, seq), '{}'::jsonb) INTO seqs FROM ins;
  END IF;
  RETURN jsonb_build_object('r', outcomes, 's', seqs, 'p', prior);
END
$fn$;
`;

/**
 * Schema v9: v6 with the duplicate marker in its array of conflicts `chr(1)` instead of
 * `'d'`, which is also a valid instance id: a conflict on an instance named `d` was taken for
 * a duplicate (the input acked, its reply lost) and its new child left in place. No id holds
 * a control character (json-bounds.ts). The outcomes it returns are as before: `"d"` for a
 * duplicate, `{"x": id}` for a conflict.
 */
export const APPLY_FUNCTION_V9 = [
  ["THEN 'd' ELSE (", 'THEN chr(1) ELSE ('],
  ["conflicts[x.ordinality] <> 'd' AND", 'conflicts[x.ordinality] <> chr(1) AND'],
  ["WHEN v = 'd' THEN", 'WHEN v = chr(1) THEN'],
  ["-- Per input: null (committed), 'd' (duplicate)", '-- Per input: null (committed), chr(1) (duplicate)'],
].reduce((sql, [from, to]) => {
  if (from === undefined || to === undefined || sql.split(from).length !== 2) throw new Error(`apply v9: \`${from}\` is not once in v6`);
  return sql.replace(from, to);
}, APPLY_FUNCTION_V6);

/**
 * Schema v10: v9 with the outbox probe narrowed for an input that answers a command. A reply
 * proves its command delivered, and with it the rows of its instance's earlier commits (the
 * relay sends an instance's commits in order), but not the other rows of the command's own
 * commit: the relay sends those together, and one of them may have failed while the command
 * was acknowledged (v5 to v9 left out every row up to the command's). An unsent row is now
 * left out of `follows` only when it is answered itself, or when it comes before an answered
 * row (a lower `seq`) and from an earlier commit. A commit is told by `created_at` (its batch's
 * `now_ms`, shared by all its rows), as the relay tells the commits it reads back: a row of
 * another commit in the same millisecond, or stamped by a replica whose clock is ahead, stays
 * in `follows`, which costs at most a publish that JetStream drops as a duplicate.
 */
export const APPLY_FUNCTION_V10 = [
  [`    EXECUTE 'SELECT coalesce(jsonb_object_agg(p.instance_id, p.seqs), ''{}''::jsonb) FROM (
      SELECT q.instance_id, jsonb_agg(q.seq ORDER BY q.seq) AS seqs FROM (
        SELECT o.instance_id, o.seq, max(o.seq) FILTER (WHERE o.message_id = ANY ($2)) OVER (PARTITION BY o.instance_id) AS upto
        FROM outbox o WHERE o.instance_id = ANY ($1) AND o.sent_at IS NULL) q
      WHERE q.upto IS NULL OR q.seq > q.upto GROUP BY q.instance_id) p' INTO prior USING writes_to, answered;`,
  `    EXECUTE 'WITH u AS MATERIALIZED (
        SELECT o.instance_id, o.seq, o.created_at, o.message_id = ANY ($2) AS answered
        FROM outbox o WHERE o.instance_id = ANY ($1) AND o.sent_at IS NULL)
      SELECT coalesce(jsonb_object_agg(p.instance_id, p.seqs), ''{}''::jsonb) FROM (
        SELECT q.instance_id, jsonb_agg(q.seq ORDER BY q.seq) AS seqs FROM u q
        WHERE NOT q.answered AND NOT EXISTS (
          SELECT FROM u a WHERE a.answered AND a.instance_id = q.instance_id AND a.seq > q.seq AND a.created_at > q.created_at)
        GROUP BY q.instance_id) p' INTO prior USING writes_to, answered;`],
].reduce((sql, [from, to]) => {
  if (from === undefined || to === undefined || sql.split(from).length !== 2) throw new Error(`apply v10: \`${from}\` is not once in v9`);
  // A function, so that the \`$1\` and \`$2\` of the statement are not read as replacement patterns.
  return sql.replace(from, () => to);
}, APPLY_FUNCTION_V9);

/**
 * Schema v11: v10 with the instances an input read but does not change (`r`: id and version
 * read, port.ts `reads`) checked as its changed ones are: the engine passes them in
 * `lock_ids`, so they are locked with the others, in id order, and an input that read one at a
 * version it no longer has is refused as a conflict on it, writing nothing. Without it, a
 * parent's retry that found its child still compensating and the child's end that found the
 * parent still failed, each leaving the other unchanged, both committed, and the parent waited
 * for a child that had already ended. An input without `r` (a build of v10) is decided as before.
 */
export const APPLY_FUNCTION_V11 = [
  ['THEN chr(1) ELSE (', 'THEN chr(1) ELSE coalesce(('],
  [`      ORDER BY ch.ordinality LIMIT 1) END ORDER BY x.ordinality)`,
    `      ORDER BY ch.ordinality LIMIT 1), (
      SELECT rd.value->>'id' FROM jsonb_array_elements(x.value->'r') WITH ORDINALITY rd
      WHERE (versions->>(rd.value->>'id'))::integer IS DISTINCT FROM (rd.value->>'v')::integer
      ORDER BY rd.ordinality LIMIT 1)) END ORDER BY x.ordinality)`],
  ['-- Per input: null (committed), chr(1) (duplicate) or the first instance it conflicts on.',
    '-- Per input: null (committed), chr(1) (duplicate) or the first instance it conflicts on: one it\n  -- changes, else one it read (`r`) at a version it no longer has.'],
].reduce((sql, [from, to]) => {
  if (from === undefined || to === undefined || sql.split(from).length !== 2) throw new Error(`apply v11: \`${from}\` is not once in v10`);
  return sql.replace(from, () => to);
}, APPLY_FUNCTION_V10);

/**
 * Schema v12: v11 with a wait row's correlation id (`wp`'s sixth column: the one an event must
 * carry, null when the step's `match` decides), which `waiting` looks up (reads.ts). A replica
 * of the previous build, running meanwhile, sends five columns: its waits are written without
 * one, and so offered every event of their type, as before.
 */
export const APPLY_FUNCTION_V12 = [
  [`    INSERT INTO waits (instance_id, step, subject, type)
      SELECT r.value->>1, r.value->>2, r.value->>3, r.value->>4 FROM jsonb_array_elements(rows->'wp') r WHERE all_ok OR okm[(r.value->>0)::integer]
      ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type;`,
  `    INSERT INTO waits (instance_id, step, subject, type, correlation_id)
      SELECT r.value->>1, r.value->>2, r.value->>3, r.value->>4, r.value->>5 FROM jsonb_array_elements(rows->'wp') r WHERE all_ok OR okm[(r.value->>0)::integer]
      ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type, correlation_id = excluded.correlation_id;`],
].reduce((sql, [from, to]) => {
  if (from === undefined || to === undefined || sql.split(from).length !== 2) throw new Error(`apply v12: \`${from}\` is not once in v11`);
  return sql.replace(from, () => to);
}, APPLY_FUNCTION_V11);
