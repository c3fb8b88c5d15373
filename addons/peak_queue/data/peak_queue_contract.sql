-- Odoo Peak DB contract v5: pause leases on queue_job channels, conflict
-- counters, preemption of a job idle in its transaction, and (v5) reads of
-- Odoo's tables through definer functions that return only what is needed.
-- Documented in docs/db-contract.md; the governor calls these functions, the
-- Odoo UI too, so validation lives here, once. Executed on every install and
-- upgrade of peak_queue (peak.queue.lease.init); CREATE OR REPLACE keeps it
-- idempotent. Times are UTC `timestamp without time zone`, as Odoo stores them,
-- and always come from the database clock.
--
-- Least privilege (v2): every function that writes (or signals) is SECURITY DEFINER, owned
-- by Odoo's role (whoever runs this file), with a pinned search_path so a
-- caller cannot shadow a table or an operator with its own schema. The
-- governor's role gets EXECUTE on them and only SELECT on the contract's own
-- tables: the functions are the only way to write a lease, an event or the
-- leader row. Since v5 it reads no Odoo table but queue_job_channel (no
-- ir_config_parameter: database.secret is there; no queue_job: job arguments
-- and tracebacks are) and needs no pg_monitor (which shows every session's
-- query text, literals included): the read functions at the end of this file
-- return the few columns it uses.

CREATE OR REPLACE FUNCTION peak_queue_contract_version() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 5 $$;

-- The priority class of a channel: its own, else its closest ancestor's,
-- else 'operational' (the documented default, e.g. for jobs in root).
CREATE OR REPLACE FUNCTION peak_queue_channel_class(p_channel_id integer)
RETURNS varchar LANGUAGE sql STABLE AS $$
    WITH RECURSIVE chain(id, parent_id, priority_class, depth) AS (
        SELECT id, parent_id, priority_class, 0
          FROM queue_job_channel WHERE id = p_channel_id
        UNION ALL
        SELECT c.id, c.parent_id, c.priority_class, chain.depth + 1
          FROM queue_job_channel c JOIN chain ON c.id = chain.parent_id
    )
    SELECT COALESCE(
        (SELECT priority_class FROM chain
          WHERE priority_class IS NOT NULL ORDER BY depth LIMIT 1),
        'operational')
$$;

CREATE OR REPLACE FUNCTION peak_queue_max_ttl() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT value::integer FROM ir_config_parameter
          WHERE key = 'peak_queue.lease_max_ttl_seconds' AND value ~ '^[0-9]{1,6}$'),
        3600)
$$;

-- Take a lease, or renew the caller's own active lease on that channel.
-- Errors (SQLSTATE 22023, message starting with "peak lease:") write nothing.
-- p_trickle: instead of stopping the channel, let one job at a time run (the
-- governor's starvation guard).
DROP FUNCTION IF EXISTS peak_queue_lease_acquire(text, text, text, jsonb, integer);
CREATE OR REPLACE FUNCTION peak_queue_lease_acquire(
    p_channel text, p_holder text, p_reason text, p_evidence jsonb,
    p_ttl_seconds integer, p_trickle boolean DEFAULT false)
RETURNS TABLE (lease_id integer, lease_expires_at timestamp, renewed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_now timestamp := now() AT TIME ZONE 'utc';
    v_channel queue_job_channel%ROWTYPE;
    v_offender text;
    v_id integer;
    v_expires timestamp;
    v_renewed boolean := false;
BEGIN
    IF p_holder IS NULL OR btrim(p_holder) = '' OR length(p_holder) > 128 THEN
        RAISE EXCEPTION 'peak lease: holder must be 1 to 128 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_reason IS NULL OR btrim(p_reason) = '' OR length(p_reason) > 512 THEN
        RAISE EXCEPTION 'peak lease: reason must be 1 to 512 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_evidence IS NULL OR jsonb_typeof(p_evidence) <> 'object' THEN
        RAISE EXCEPTION 'peak lease: evidence must be a JSON object'
            USING ERRCODE = '22023';
    END IF;
    IF octet_length(p_evidence::text) > 65536 THEN
        RAISE EXCEPTION 'peak lease: evidence is larger than 64 KiB'
            USING ERRCODE = '22023';
    END IF;
    IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1
            OR p_ttl_seconds > peak_queue_max_ttl() THEN
        RAISE EXCEPTION 'peak lease: ttl must be between 1 and % seconds, got %',
            peak_queue_max_ttl(), p_ttl_seconds USING ERRCODE = '22023';
    END IF;
    -- No row lock on the channel: that would need UPDATE on queue_job_channel,
    -- which the governor's role must not have (the lease's foreign key is
    -- enough against a concurrent delete).
    SELECT * INTO v_channel FROM queue_job_channel WHERE complete_name = p_channel;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'peak lease: unknown channel %', p_channel
            USING ERRCODE = '22023';
    END IF;
    IF v_channel.parent_id IS NULL THEN
        RAISE EXCEPTION 'peak lease: the root channel can never be leased'
            USING ERRCODE = '22023';
    END IF;
    -- Pausing a channel pauses everything below it: refuse if anything there
    -- is critical or pinned (critical reported first).
    WITH RECURSIVE tree AS (
        SELECT id, complete_name, pinned FROM queue_job_channel
         WHERE id = v_channel.id
        UNION ALL
        SELECT c.id, c.complete_name, c.pinned
          FROM queue_job_channel c JOIN tree t ON c.parent_id = t.id
    ), offenders AS (
        SELECT complete_name,
               CASE WHEN peak_queue_channel_class(tree.id) = 'critical'
                    THEN 'is critical and can never be leased'
                    WHEN pinned THEN 'is pinned as never pause' END AS why
          FROM tree
    )
    SELECT complete_name || ' ' || why INTO v_offender FROM offenders
     WHERE why IS NOT NULL ORDER BY why LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'peak lease: channel %', v_offender USING ERRCODE = '22023';
    END IF;

    v_expires := v_now + make_interval(secs => p_ttl_seconds);
    UPDATE peak_queue_lease l
       SET expires_at = v_expires, reason = p_reason, evidence = p_evidence,
           trickle = COALESCE(p_trickle, false), write_date = v_now
     WHERE l.channel_id = v_channel.id AND l.holder = p_holder
       AND l.state = 'active' AND l.expires_at > v_now
    RETURNING l.id INTO v_id;
    IF FOUND THEN
        v_renewed := true;
    ELSE
        INSERT INTO peak_queue_lease
            (channel_id, holder, reason, evidence, expires_at, state, trickle,
             create_date, write_date)
        VALUES (v_channel.id, p_holder, p_reason, p_evidence, v_expires, 'active',
                COALESCE(p_trickle, false), v_now, v_now)
        RETURNING id INTO v_id;
    END IF;
    INSERT INTO peak_queue_lease_event
        (lease_id, channel_id, channel_name, action, holder, reason, evidence,
         expires_at, create_date, write_date)
    VALUES (v_id, v_channel.id, v_channel.complete_name,
            CASE WHEN v_renewed THEN 'renewed' ELSE 'created' END,
            p_holder, p_reason, p_evidence, v_expires, v_now, v_now);
    PERFORM pg_notify('peak_queue_lease', current_database());
    RETURN QUERY SELECT v_id, v_expires, v_renewed;
END
$$;

-- Release active leases on a channel (all channels when p_channel is NULL),
-- of one holder (all holders when p_holder is NULL). Returns how many.
CREATE OR REPLACE FUNCTION peak_queue_lease_release(
    p_channel text, p_holder text, p_reason text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_now timestamp := now() AT TIME ZONE 'utc';
    v_count integer;
BEGIN
    WITH released AS (
        UPDATE peak_queue_lease l
           SET state = 'released', released_at = v_now, write_date = v_now
          FROM queue_job_channel c
         WHERE c.id = l.channel_id AND l.state = 'active'
           AND (p_channel IS NULL OR c.complete_name = p_channel)
           AND (p_holder IS NULL OR l.holder = p_holder)
        RETURNING l.id, l.channel_id, c.complete_name, l.holder, l.expires_at
    )
    INSERT INTO peak_queue_lease_event
        (lease_id, channel_id, channel_name, action, holder, reason, evidence,
         expires_at, create_date, write_date)
    SELECT id, channel_id, complete_name, 'released', holder,
           COALESCE(NULLIF(btrim(p_reason), ''), 'released'), '{}'::jsonb,
           expires_at, v_now, v_now
      FROM released;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM pg_notify('peak_queue_lease', current_database());
    END IF;
    RETURN v_count;
END
$$;

-- Record leases whose time ran out. Only bookkeeping: the jobrunner already
-- stopped honouring them at expires_at, by itself.
CREATE OR REPLACE FUNCTION peak_queue_lease_expire() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_now timestamp := now() AT TIME ZONE 'utc';
    v_count integer;
BEGIN
    WITH expired AS (
        UPDATE peak_queue_lease l
           SET state = 'expired', write_date = v_now
          FROM queue_job_channel c
         WHERE c.id = l.channel_id AND l.state = 'active' AND l.expires_at <= v_now
        RETURNING l.id, l.channel_id, c.complete_name, l.holder, l.expires_at
    )
    INSERT INTO peak_queue_lease_event
        (lease_id, channel_id, channel_name, action, holder, reason, evidence,
         expires_at, create_date, write_date)
    SELECT id, channel_id, complete_name, 'expired', holder, 'lease expired',
           '{}'::jsonb, expires_at, v_now, v_now
      FROM expired;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- What the jobrunner reads on every lease NOTIFY: one row per leased channel,
-- with the seconds left by the database clock (the runner adds them to its own
-- clock, so host clock skew does not matter). A channel is trickling only when
-- every active lease on it trickles: a full pause wins.
DROP FUNCTION IF EXISTS peak_queue_active_leases();
CREATE OR REPLACE FUNCTION peak_queue_active_leases()
RETURNS TABLE (channel text, remaining_seconds double precision, trickle boolean)
LANGUAGE sql STABLE AS $$
    SELECT c.complete_name::text,
           max(EXTRACT(EPOCH FROM l.expires_at - (now() AT TIME ZONE 'utc')))::float8,
           bool_and(l.trickle)
      FROM peak_queue_lease l
      JOIN queue_job_channel c ON c.id = l.channel_id
     WHERE l.state = 'active' AND l.expires_at > (now() AT TIME ZONE 'utc')
     GROUP BY c.complete_name
$$;

-- Governor leadership, one row per database: a holder keeps it by calling this
-- at least once per TTL; anyone may take it once it has expired. Returns true
-- when the caller is the leader until the returned expiry.
CREATE TABLE IF NOT EXISTS peak_queue_governor_leader (
    id integer PRIMARY KEY CHECK (id = 1),
    holder varchar NOT NULL,
    since timestamp NOT NULL,
    expires_at timestamp NOT NULL,
    level varchar,
    heartbeat_at timestamp
);
ALTER TABLE peak_queue_governor_leader ADD COLUMN IF NOT EXISTS level varchar;
ALTER TABLE peak_queue_governor_leader ADD COLUMN IF NOT EXISTS heartbeat_at timestamp;
-- v4: the leader's profile (balanced, pickers_first, observe), for Settings.
ALTER TABLE peak_queue_governor_leader ADD COLUMN IF NOT EXISTS profile varchar;

-- p_level: the leader's current contention level, shown by `peak-governor
-- status` and the Channels view; p_profile: the profile it runs (v4).
DROP FUNCTION IF EXISTS peak_queue_governor_heartbeat(text, integer);
DROP FUNCTION IF EXISTS peak_queue_governor_heartbeat(text, integer, text);
CREATE OR REPLACE FUNCTION peak_queue_governor_heartbeat(
    p_holder text, p_ttl_seconds integer, p_level text DEFAULT NULL,
    p_profile text DEFAULT NULL)
RETURNS TABLE (is_leader boolean, leader text, leader_expires_at timestamp)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_now timestamp := now() AT TIME ZONE 'utc';
BEGIN
    IF p_holder IS NULL OR btrim(p_holder) = '' OR length(p_holder) > 128 THEN
        RAISE EXCEPTION 'peak lease: holder must be 1 to 128 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1 OR p_ttl_seconds > 600 THEN
        RAISE EXCEPTION 'peak lease: leadership ttl must be between 1 and 600 seconds'
            USING ERRCODE = '22023';
    END IF;
    IF length(p_profile) > 32 THEN
        RAISE EXCEPTION 'peak lease: profile must be at most 32 characters'
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO peak_queue_governor_leader AS g
        (id, holder, since, expires_at, level, heartbeat_at, profile)
    VALUES (1, p_holder, v_now, v_now + make_interval(secs => p_ttl_seconds),
            p_level, v_now, p_profile)
    ON CONFLICT (id) DO UPDATE
       SET holder = EXCLUDED.holder,
           since = CASE WHEN g.holder = EXCLUDED.holder THEN g.since ELSE v_now END,
           expires_at = EXCLUDED.expires_at,
           level = EXCLUDED.level,
           heartbeat_at = v_now,
           profile = EXCLUDED.profile
     WHERE g.holder = EXCLUDED.holder OR g.expires_at <= v_now;
    RETURN QUERY SELECT g.holder = p_holder, g.holder::text, g.expires_at
                   FROM peak_queue_governor_leader g WHERE g.id = 1;
END
$$;

-- A leader stepping down (SIGTERM) hands over at once instead of after a TTL.
CREATE OR REPLACE FUNCTION peak_queue_governor_resign(p_holder text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH gone AS (
        DELETE FROM peak_queue_governor_leader WHERE holder = p_holder RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM gone)
$$;

-- Preemption (opt-in on the governor's side): free the locks one job's
-- session holds, so its transaction rolls back and the job runs again later.
-- A session running a statement gets that statement cancelled
-- (pg_cancel_backend); a session idle in its transaction (a job between two
-- statements, working or sleeping in Python: a cancel would do nothing) is
-- terminated (pg_terminate_backend, v4). peak_queue turns either into a retry
-- of the job (controllers/main.py, lib/preemption.py). Refused (22023) unless
-- the backend is, right now, a session of this database tagged as that very
-- job (pk1 attribution, uuid included) of a background or bulk channel: a pid
-- reused by other work, a request, a cron or a critical or operational job is
-- never touched. Runs as Odoo's role, which may signal the sessions of its
-- own workers: the governor's role needs no pg_signal_backend. Records a
-- 'preempted' event; returns the signal and whether it was sent.
DO $$
BEGIN
    -- v3 returned a boolean: a return type cannot be replaced, only dropped
    -- (peak.queue.lease.event.init() grants EXECUTE again afterwards).
    IF EXISTS (SELECT 1 FROM pg_proc
                WHERE oid = to_regprocedure(
                          'peak_queue_job_preempt(integer, text, text, text, jsonb)')
                  AND prorettype = 'boolean'::regtype) THEN
        DROP FUNCTION peak_queue_job_preempt(integer, text, text, text, jsonb);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION peak_queue_job_preempt(
    p_pid integer, p_job_uuid text, p_holder text, p_reason text, p_evidence jsonb)
RETURNS TABLE (signal text, signal_sent boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_now timestamp := now() AT TIME ZONE 'utc';
    v_tag text;
    v_state text;
    v_class text;
    v_channel queue_job_channel%ROWTYPE;
    v_signal text;
    v_sent boolean;
BEGIN
    IF p_holder IS NULL OR btrim(p_holder) = '' OR length(p_holder) > 128 THEN
        RAISE EXCEPTION 'peak lease: holder must be 1 to 128 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_reason IS NULL OR btrim(p_reason) = '' OR length(p_reason) > 512 THEN
        RAISE EXCEPTION 'peak lease: reason must be 1 to 512 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_evidence IS NULL OR jsonb_typeof(p_evidence) <> 'object'
            OR octet_length(p_evidence::text) > 65536 THEN
        RAISE EXCEPTION 'peak lease: evidence must be a JSON object of 64 KiB at most'
            USING ERRCODE = '22023';
    END IF;
    IF p_job_uuid IS NULL OR p_job_uuid !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'peak lease: job uuid must be a lowercase dashed uuid'
            USING ERRCODE = '22023';
    END IF;
    SELECT a.application_name, a.state INTO v_tag, v_state FROM pg_stat_activity a
     WHERE a.pid = p_pid AND a.datname = current_database() AND a.state <> 'idle';
    IF v_tag IS NULL OR split_part(v_tag, '|', 1) <> 'pk1'
            OR split_part(v_tag, '|', 2) <> 'job'
            OR split_part(v_tag, '|', 4) <> replace(p_job_uuid, '-', '') THEN
        RAISE EXCEPTION 'peak lease: backend % is not running job %', p_pid, p_job_uuid
            USING ERRCODE = '22023';
    END IF;
    SELECT c.* INTO v_channel FROM queue_job j
      JOIN queue_job_channel c ON c.complete_name = j.channel
     WHERE j.uuid = p_job_uuid AND j.state = 'started';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'peak lease: job % is not started in a known channel', p_job_uuid
            USING ERRCODE = '22023';
    END IF;
    v_class := peak_queue_channel_class(v_channel.id);
    IF v_class NOT IN ('background', 'bulk') THEN
        RAISE EXCEPTION 'peak lease: job % is % work and is never preempted',
            p_job_uuid, v_class USING ERRCODE = '22023';
    END IF;
    -- A preempted run does not count against the job's max_retries (the job
    -- did nothing wrong): this bound, kept here whatever governor calls,
    -- is what stops a job from being preempted over and over.
    IF EXISTS (SELECT 1 FROM peak_queue_lease_event e
                WHERE e.action = 'preempted'
                  AND e.evidence->>'job_uuid' = p_job_uuid
                  AND e.create_date > v_now - interval '1 hour') THEN
        RAISE EXCEPTION 'peak lease: job % was preempted less than an hour ago',
            p_job_uuid USING ERRCODE = '22023';
    END IF;
    -- The state was read once above (pg_stat_activity is a snapshot): the
    -- signal fits what the session was doing a moment ago.
    IF v_state = 'active' THEN
        v_signal := 'cancel';
        v_sent := pg_cancel_backend(p_pid);
    ELSIF v_state = 'idle in transaction' THEN
        v_signal := 'terminate';
        v_sent := pg_terminate_backend(p_pid);
    ELSE
        RAISE EXCEPTION 'peak lease: backend % of job % is %, neither running a statement nor idle in its transaction',
            p_pid, p_job_uuid, v_state USING ERRCODE = '22023';
    END IF;
    INSERT INTO peak_queue_lease_event
        (lease_id, channel_id, channel_name, action, holder, reason, evidence,
         expires_at, create_date, write_date)
    VALUES (NULL, v_channel.id, v_channel.complete_name, 'preempted', p_holder,
            p_reason,
            p_evidence || jsonb_build_object('pid', p_pid, 'job_uuid', p_job_uuid,
                                             'signal', v_signal,
                                             'signal_sent', v_sent),
            NULL, v_now, v_now);
    RETURN QUERY SELECT v_signal, v_sent;
END
$$;

-- Conflicts (v3): protected work that lost its transaction to a concurrent
-- one (serialization failure, deadlock, lock timeout: what Odoo retries after
-- a random sleep). peak_queue draws one value per request that suffers it
-- (once however often it is retried) or job run (lib/conflicts.py); nextval
-- survives the rollback that follows, so the count is exact.
CREATE SEQUENCE IF NOT EXISTS peak_queue_conflicts_interactive;
CREATE SEQUENCE IF NOT EXISTS peak_queue_conflicts_critical;
CREATE SEQUENCE IF NOT EXISTS peak_queue_conflicts_operational;

-- Totals since install, per protected class; definer so that the governor
-- needs no grant on the sequences.
CREATE OR REPLACE FUNCTION peak_queue_conflicts()
RETURNS TABLE (priority_class text, conflicts bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT 'interactive', CASE WHEN is_called THEN last_value ELSE 0 END
      FROM peak_queue_conflicts_interactive
    UNION ALL
    SELECT 'critical', CASE WHEN is_called THEN last_value ELSE 0 END
      FROM peak_queue_conflicts_critical
    UNION ALL
    SELECT 'operational', CASE WHEN is_called THEN last_value ELSE 0 END
      FROM peak_queue_conflicts_operational
$$;

-- v5: what the governor reads of Odoo, and nothing more. Definer functions,
-- so its role needs no grant on ir_config_parameter, queue_job or pg_monitor.

-- The governor's settings and the protected intervals peak_base publishes.
CREATE OR REPLACE FUNCTION peak_queue_settings()
RETURNS TABLE (key text, value text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.key::text, p.value::text FROM ir_config_parameter p
     WHERE p.key LIKE 'peak\_governor.%' OR p.key = 'peak_base.protected_intervals'
$$;

-- The full channel of jobs whose attribution tag kept only its tail.
CREATE OR REPLACE FUNCTION peak_queue_job_channels(p_uuids text[])
RETURNS TABLE (uuid text, channel text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT j.uuid::text, j.channel::text FROM queue_job j
     WHERE j.uuid = ANY(p_uuids[1:1000])
$$;

-- p95 run time and count of the background and bulk jobs done in the last
-- day: the default lead of the pre-window drain.
CREATE OR REPLACE FUNCTION peak_queue_job_durations()
RETURNS TABLE (p95_seconds double precision, jobs bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY
               EXTRACT(EPOCH FROM j.date_done - j.date_started)),
           count(*)
      FROM queue_job j JOIN queue_job_channel c ON c.complete_name = j.channel
     WHERE j.state = 'done' AND j.date_started IS NOT NULL
       AND j.date_done > (now() AT TIME ZONE 'utc') - interval '1 day'
       AND peak_queue_channel_class(c.id) IN ('background', 'bulk')
$$;

-- This database's sessions as the sensor needs them: no query text, no
-- client address, no user. Running as Odoo's role, it sees the state and
-- timings of Odoo's own sessions (the ones that matter); other roles'
-- sessions show only pid and application_name, as to anyone.
CREATE OR REPLACE FUNCTION peak_queue_sessions()
RETURNS TABLE (pid integer, application_name text, state text,
               wait_event_type text, query_start timestamptz,
               xact_start timestamptz, state_change timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.pid, a.application_name, a.state, a.wait_event_type,
           a.query_start, a.xact_start, a.state_change
      FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.backend_type = 'client backend'
$$;

-- KEDA's queue-depth scaler: a count, nothing else (its own role, v5).
CREATE OR REPLACE FUNCTION peak_queue_pending_jobs()
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FROM queue_job WHERE state IN ('pending', 'enqueued')
$$;

-- Only Odoo's role (the owner) and the roles it grants EXECUTE to (the
-- governor's and KEDA's, see peak.queue.lease._grant_governor_role) may call
-- these: a definer function callable by PUBLIC would hand the owner's rights
-- to every role of the cluster.
REVOKE ALL ON FUNCTION
    peak_queue_lease_acquire(text, text, text, jsonb, integer, boolean),
    peak_queue_lease_release(text, text, text),
    peak_queue_lease_expire(),
    peak_queue_governor_heartbeat(text, integer, text, text),
    peak_queue_governor_resign(text),
    peak_queue_job_preempt(integer, text, text, text, jsonb),
    peak_queue_conflicts(),
    peak_queue_settings(),
    peak_queue_job_channels(text[]),
    peak_queue_job_durations(),
    peak_queue_sessions(),
    peak_queue_pending_jobs()
FROM PUBLIC;
