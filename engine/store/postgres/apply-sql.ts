// The outbox part of v1, and of v5 below.
const V1_OUTBOX = `
  IF rows ? 'o' THEN
    WITH ins AS (
      INSERT INTO outbox (message_id, subject, headers, data, created_at)
        SELECT r.value->>1, r.value->>2, r.value->>3, decode(r.value->>4, 'base64'), now_ms
        FROM jsonb_array_elements(rows->'o') WITH ORDINALITY r WHERE (r.value->>0)::integer = ANY (ok) ORDER BY r.ordinality
        ON CONFLICT (message_id) DO NOTHING
        RETURNING message_id, seq)
    SELECT coalesce(jsonb_object_agg(message_id, seq), '{}'::jsonb) INTO seqs FROM ins;
  END IF;`;

// The probe takes an array (ScalarArrayOp on the index), not a subquery the planner might
// turn into a scan of the whole partial index. The rows up to a command an input answers are
// left out (the reply proves them delivered): in the common case with replicas, a reply handled
// by another replica than the one that sent its command, not yet marked sent, names nothing.
// Too many: a row committed with the command may still be unsent; v10 (apply-v6.ts) keeps those.
const V5_OUTBOX = `
  IF rows ? 'o' THEN
    writes_to := ARRAY(SELECT DISTINCT r.value->>5 FROM jsonb_array_elements(rows->'o') r WHERE (r.value->>0)::integer = ANY (ok));
    answered := ARRAY(SELECT jsonb_array_elements_text(x.value->'a') FROM jsonb_array_elements(inputs) x WHERE x.value ? 'a');
    SELECT coalesce(jsonb_object_agg(p.instance_id, p.seqs), '{}'::jsonb) INTO prior FROM (
      SELECT q.instance_id, jsonb_agg(q.seq ORDER BY q.seq) AS seqs FROM (
        SELECT o.instance_id, o.seq, max(o.seq) FILTER (WHERE o.message_id = ANY (answered)) OVER (PARTITION BY o.instance_id) AS upto
        FROM outbox o WHERE o.instance_id = ANY (writes_to) AND o.sent_at IS NULL) q
      WHERE q.upto IS NULL OR q.seq > q.upto GROUP BY q.instance_id) p;
    WITH ins AS (
      INSERT INTO outbox (message_id, subject, headers, data, created_at, instance_id)
        SELECT r.value->>1, r.value->>2, r.value->>3, decode(r.value->>4, 'base64'), now_ms, r.value->>5
        FROM jsonb_array_elements(rows->'o') WITH ORDINALITY r WHERE (r.value->>0)::integer = ANY (ok) ORDER BY r.ordinality
        ON CONFLICT (message_id) DO NOTHING
        RETURNING message_id, seq)
    SELECT coalesce(jsonb_object_agg(message_id, seq), '{}'::jsonb) INTO seqs FROM ins;
  END IF;`;

/**
 * `sagad_apply(inputs jsonb, lock_ids text[], now_ms bigint, rows jsonb) RETURNS jsonb` applies
 * a batch of input writes in the caller's one transaction (one round trip, one WAL flush for
 * the whole group) and returns `{"r": [outcome per input], "s": {messageId: seq}}` (from v5 also `"p"`, below), an outcome
 * being `"c"` (committed), `"d"` (duplicate) or `{"x": instanceId}` (conflict).
 *
 * Cheap per input: what decides an input's fate runs in a loop (its inbox id, its fired timer,
 * its new instance rows, the versions of its instances, read at the start under row locks
 * taken in id order, `lock_ids`, so two replicas' batches never deadlock on instances), and
 * everything else is written by one statement per table for the whole batch, restricted to
 * the inputs that committed (`rows`: lists of `[input index, ...columns]`). The writer puts at
 * most one write per instance in a batch, so these statements never meet one row twice.
 *
 * Each input is all or nothing without a subtransaction (past 64 of them PostgreSQL's
 * snapshots overflow and every backend slows down): a refused input's inbox id, fired timer
 * and new instance rows are undone by hand. `ON CONFLICT DO NOTHING` waits for a concurrent
 * inserter of the same key and never raises.
 *
 * `inputs`: `[{m, t: {i, t, d} | null, c: [{v, id} | {v: 0, id, saga, hash, key, corr, st, ca, ua, ver, s}]}]`;
 * `rows`: `{u, e, s, tc, tp, cm, wr, wp, o}`, see encode.ts.
 */
export const APPLY_FUNCTION = applyFunction('CREATE', '', V1_OUTBOX, "RETURN jsonb_build_object('r', outcomes, 's', seqs);");

/**
 * Schema v5 (per-instance order of outbox rows, docs/deployment.md): the same function, which
 * also stores each outbox row's instance and, before inserting, reads the older unsent rows of
 * the instances it writes to (one probe of the partial index `outbox_unsent_instance` per
 * instance), returned as `"p": {instanceId: [seq, ...]}`; an input's `"a"` (answered command
 * ids, see `InputWrite.answers`) leaves out the rows up to those. Under the instances' row locks these
 * rows are exactly the ones committed earlier and not yet marked sent: the relay publishes
 * those it does not hold itself (another replica's, perhaps a dead one's) before the new ones.
 */
export const APPLY_FUNCTION_V5 = applyFunction('CREATE OR REPLACE', `
  prior jsonb := '{}'::jsonb;
  writes_to text[];
  answered text[];`, V5_OUTBOX, "RETURN jsonb_build_object('r', outcomes, 's', seqs, 'p', prior);");

function applyFunction(create: string, declare: string, outbox: string, ret: string): string {
  return `
${create} FUNCTION sagad_apply(inputs jsonb, lock_ids text[], now_ms bigint, rows jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE${declare}
  versions jsonb;
  fresh text[];
  taken text[] := '{}';
  undo_inbox text[] := '{}';
  ok integer[] := '{}';
  outcomes jsonb := '[]'::jsonb;
  w jsonb;
  idx bigint;
  c jsonb;
  fired jsonb;
  timer timers%ROWTYPE;
  inserted text[];
  conflict text;
  n integer;
  seqs jsonb := '{}'::jsonb;
BEGIN
  SELECT coalesce(jsonb_object_agg(l.id, l.version), '{}'::jsonb) INTO versions
    FROM (SELECT id, version FROM instances WHERE id = ANY (lock_ids) ORDER BY id FOR UPDATE) l;
  WITH ins AS (
    INSERT INTO inbox (message_id, at)
      SELECT DISTINCT x.value->>'m', now_ms FROM jsonb_array_elements(inputs) x WHERE x.value->>'m' IS NOT NULL ORDER BY 1
      ON CONFLICT DO NOTHING RETURNING message_id)
  SELECT coalesce(array_agg(message_id), '{}') INTO fresh FROM ins;

  FOR w, idx IN SELECT value, ordinality FROM jsonb_array_elements(inputs) WITH ORDINALITY LOOP
    IF w->>'m' IS NOT NULL THEN
      IF NOT (w->>'m' = ANY (fresh)) OR w->>'m' = ANY (taken) THEN
        outcomes := outcomes || '["d"]'::jsonb;
        CONTINUE;
      END IF;
      taken := taken || (w->>'m');
    END IF;

    fired := w->'t';
    IF jsonb_typeof(fired) = 'object' THEN
      DELETE FROM timers WHERE instance_id = fired->>'i' AND timer_id = fired->>'t' AND due_at = (fired->>'d')::bigint
        RETURNING * INTO timer;
      IF NOT FOUND THEN
        IF w->>'m' IS NOT NULL THEN undo_inbox := undo_inbox || (w->>'m'); END IF;
        outcomes := outcomes || '["d"]'::jsonb;
        CONTINUE;
      END IF;
    END IF;

    inserted := '{}';
    conflict := NULL;
    FOR c IN SELECT value FROM jsonb_array_elements(w->'c') LOOP
      IF (c->>'v')::integer = 0 THEN
        INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
          VALUES (c->>'id', c->>'saga', c->>'hash', c->>'key', c->>'corr', c->>'st', (c->>'ca')::bigint, (c->>'ua')::bigint,
                  (c->>'ver')::integer, c->>'s')
          ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN conflict := c->>'id'; EXIT; END IF;
        inserted := inserted || (c->>'id');
      ELSIF (versions->>(c->>'id'))::integer IS DISTINCT FROM (c->>'v')::integer THEN
        conflict := c->>'id';
        EXIT;
      END IF;
    END LOOP;

    IF conflict IS NOT NULL THEN
      IF cardinality(inserted) > 0 THEN DELETE FROM instances WHERE id = ANY (inserted); END IF;
      IF jsonb_typeof(fired) = 'object' THEN INSERT INTO timers SELECT timer.*; END IF;
      IF w->>'m' IS NOT NULL THEN undo_inbox := undo_inbox || (w->>'m'); END IF;
      outcomes := outcomes || jsonb_build_array(jsonb_build_object('x', conflict));
      CONTINUE;
    END IF;
    ok := ok || idx::integer;
    outcomes := outcomes || '["c"]'::jsonb;
  END LOOP;

  IF cardinality(undo_inbox) > 0 THEN DELETE FROM inbox WHERE message_id = ANY (undo_inbox); END IF;
  IF cardinality(ok) = 0 THEN ${ret} END IF;

  IF rows ? 'u' THEN
    UPDATE instances i SET status = r.value->>2, updated_at = (r.value->>3)::bigint, version = (r.value->>4)::integer, state = r.value->>5
      FROM jsonb_array_elements(rows->'u') r WHERE i.id = r.value->>1 AND (r.value->>0)::integer = ANY (ok);
  END IF;
  IF rows ? 'e' THEN
    INSERT INTO journal (instance_id, seq, type, type_version, at, data)
      SELECT r.value->>1, (r.value->>2)::integer, r.value->>3, (r.value->>4)::smallint, (r.value->>5)::bigint, r.value->>6
      FROM jsonb_array_elements(rows->'e') r WHERE (r.value->>0)::integer = ANY (ok);
  END IF;
  IF rows ? 's' THEN
    INSERT INTO snapshots (instance_id, version, state)
      SELECT r.value->>1, (r.value->>2)::integer, r.value->>3 FROM jsonb_array_elements(rows->'s') r WHERE (r.value->>0)::integer = ANY (ok)
      ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state;
  END IF;
  IF rows ? 'tc' THEN
    DELETE FROM timers t USING jsonb_array_elements(rows->'tc') r
      WHERE (r.value->>0)::integer = ANY (ok) AND t.instance_id = r.value->>1 AND t.timer_id = r.value->>2;
  END IF;
  IF rows ? 'tp' THEN
    INSERT INTO timers (instance_id, timer_id, due_at, data)
      SELECT r.value->>1, r.value->>2, (r.value->>3)::bigint, r.value->>4 FROM jsonb_array_elements(rows->'tp') r WHERE (r.value->>0)::integer = ANY (ok)
      ON CONFLICT (instance_id, timer_id) DO UPDATE SET due_at = excluded.due_at, data = excluded.data, claimed_until = NULL;
  END IF;
  IF rows ? 'cm' THEN
    INSERT INTO commands (command_id, instance_id, step, kind)
      SELECT r.value->>1, r.value->>2, r.value->>3, r.value->>4 FROM jsonb_array_elements(rows->'cm') r WHERE (r.value->>0)::integer = ANY (ok)
      ON CONFLICT DO NOTHING;
  END IF;
  IF rows ? 'wr' THEN
    DELETE FROM waits x USING jsonb_array_elements(rows->'wr') r
      WHERE (r.value->>0)::integer = ANY (ok) AND x.instance_id = r.value->>1 AND x.step = r.value->>2;
  END IF;
  IF rows ? 'wp' THEN
    INSERT INTO waits (instance_id, step, subject, type)
      SELECT r.value->>1, r.value->>2, r.value->>3, r.value->>4 FROM jsonb_array_elements(rows->'wp') r WHERE (r.value->>0)::integer = ANY (ok)
      ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type;
  END IF;${outbox}
  ${ret}
END
$fn$;
`;
}

