/**
 * `sagad_apply(batch jsonb, lock_ids text[], now_ms bigint) RETURNS jsonb`: applies a batch of input writes in
 * the caller's one transaction (one round trip, one WAL flush for the whole group) and
 * returns one outcome per input, in order: `"d"` (duplicate), `{"x": instanceId}` (conflict)
 * or the `[messageId, seq]` pairs of the outbox rows it added (committed).
 *
 * An input is all or nothing without a subtransaction per input (past 64 of them PostgreSQL's
 * snapshots overflow and every backend slows down): the writes that can refuse an input come
 * first and are undone by hand when a later one refuses: the inbox id, then the fired timer
 * (deleted at its due time), then new instance rows (`ON CONFLICT DO NOTHING` on id and key,
 * which waits for a concurrent inserter and never raises), then the versions of existing
 * rows, checked under the row locks taken at the start in id order (`lock_ids`, the existing
 * instances the batch changes), so two replicas'
 * batches never deadlock on instances. What remains cannot refuse.
 *
 * Input shape (see encode.ts): `{m, t: {i, t, d} | null, c: [{v, id, saga, hash, key, corr,
 * st, ca, ua, ver, s, snap?, e?, o?, tp?, tc?, cm?, wp?, wr?}]}`.
 */
export const APPLY_FUNCTION = `
CREATE FUNCTION sagad_apply(batch jsonb, lock_ids text[], now_ms bigint) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  w jsonb;
  c jsonb;
  fired jsonb;
  timer timers%ROWTYPE;
  results jsonb := '[]'::jsonb;
  added jsonb;
  rows_added jsonb;
  inserted text[];
  conflict text;
  n integer;
  cur integer;
BEGIN
  PERFORM 1 FROM instances WHERE id = ANY (lock_ids) ORDER BY id FOR UPDATE;

  FOR w IN SELECT value FROM jsonb_array_elements(batch) LOOP
    IF w->>'m' IS NOT NULL THEN
      INSERT INTO inbox (message_id, at) VALUES (w->>'m', now_ms) ON CONFLICT DO NOTHING;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n = 0 THEN
        results := results || '["d"]'::jsonb;
        CONTINUE;
      END IF;
    END IF;

    fired := w->'t';
    IF jsonb_typeof(fired) = 'object' THEN
      DELETE FROM timers WHERE instance_id = fired->>'i' AND timer_id = fired->>'t' AND due_at = (fired->>'d')::bigint
        RETURNING * INTO timer;
      IF NOT FOUND THEN
        IF w->>'m' IS NOT NULL THEN DELETE FROM inbox WHERE message_id = w->>'m'; END IF;
        results := results || '["d"]'::jsonb;
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
      ELSE
        SELECT version INTO cur FROM instances WHERE id = c->>'id';
        IF cur IS DISTINCT FROM (c->>'v')::integer THEN conflict := c->>'id'; EXIT; END IF;
      END IF;
    END LOOP;

    IF conflict IS NOT NULL THEN
      IF cardinality(inserted) > 0 THEN DELETE FROM instances WHERE id = ANY (inserted); END IF;
      IF jsonb_typeof(fired) = 'object' THEN INSERT INTO timers SELECT timer.*; END IF;
      IF w->>'m' IS NOT NULL THEN DELETE FROM inbox WHERE message_id = w->>'m'; END IF;
      results := results || jsonb_build_array(jsonb_build_object('x', conflict));
      CONTINUE;
    END IF;

    added := '[]'::jsonb;
    FOR c IN SELECT value FROM jsonb_array_elements(w->'c') LOOP
      IF (c->>'v')::integer > 0 THEN
        UPDATE instances SET status = c->>'st', updated_at = (c->>'ua')::bigint, version = (c->>'ver')::integer, state = c->>'s'
          WHERE id = c->>'id';
      END IF;
      IF c ? 'e' THEN
        INSERT INTO journal (instance_id, seq, type, type_version, at, data)
          SELECT c->>'id', (c->>'v')::integer + e.ord::integer, e.value->>0, (e.value->>1)::smallint, (e.value->>2)::bigint, e.value->>3
          FROM jsonb_array_elements(c->'e') WITH ORDINALITY AS e(value, ord);
      END IF;
      IF c ? 'snap' THEN
        INSERT INTO snapshots (instance_id, version, state) VALUES (c->>'id', (c->>'ver')::integer, c->>'s')
          ON CONFLICT (instance_id) DO UPDATE SET version = excluded.version, state = excluded.state;
      END IF;
      IF c ? 'tc' THEN
        DELETE FROM timers WHERE instance_id = c->>'id' AND timer_id IN (SELECT jsonb_array_elements_text(c->'tc'));
      END IF;
      IF c ? 'tp' THEN
        INSERT INTO timers (instance_id, timer_id, due_at, data)
          SELECT c->>'id', t.value->>0, (t.value->>1)::bigint, t.value->>2 FROM jsonb_array_elements(c->'tp') AS t(value)
          ON CONFLICT (instance_id, timer_id) DO UPDATE SET due_at = excluded.due_at, data = excluded.data, claimed_until = NULL;
      END IF;
      IF c ? 'cm' THEN
        INSERT INTO commands (command_id, instance_id, step, kind)
          SELECT k.value->>0, c->>'id', k.value->>1, k.value->>2 FROM jsonb_array_elements(c->'cm') AS k(value)
          ON CONFLICT DO NOTHING;
      END IF;
      IF c ? 'wr' THEN
        DELETE FROM waits WHERE instance_id = c->>'id' AND step IN (SELECT jsonb_array_elements_text(c->'wr'));
      END IF;
      IF c ? 'wp' THEN
        INSERT INTO waits (instance_id, step, subject, type)
          SELECT c->>'id', x.value->>0, x.value->>1, x.value->>2 FROM jsonb_array_elements(c->'wp') AS x(value)
          ON CONFLICT (instance_id, step) DO UPDATE SET subject = excluded.subject, type = excluded.type;
      END IF;
      IF c ? 'o' THEN
        WITH ins AS (
          INSERT INTO outbox (message_id, subject, headers, data, created_at)
            SELECT o.value->>0, o.value->>1, o.value->>2, decode(o.value->>3, 'base64'), now_ms
            FROM jsonb_array_elements(c->'o') WITH ORDINALITY AS o(value, ord) ORDER BY o.ord
            ON CONFLICT (message_id) DO NOTHING
            RETURNING message_id, seq)
        SELECT coalesce(jsonb_agg(jsonb_build_array(message_id, seq) ORDER BY seq), '[]'::jsonb) INTO rows_added FROM ins;
        added := added || rows_added;
      END IF;
    END LOOP;
    results := results || jsonb_build_array(added);
  END LOOP;
  RETURN results;
END
$fn$;
`;
