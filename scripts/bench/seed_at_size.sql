-- Production-size data for a migrated, empty Otto database on PostgreSQL: tenants,
-- three years of calls, webhook idempotency keys, the webhook delivery log, text
-- messages, missed-call follow-ups and a queue of jobs. Set-based (generate_series and
-- INSERT ... SELECT): the default sizes take about 75 s on two idle cores, 105 s with
-- migration 13's search terms (2.7 million rows).
--
-- Plain SQL only, so it runs either way:
--   psql -v ON_ERROR_STOP=1 -d DB -f scripts/bench/seed_at_size.sql
--   (sizes: PGOPTIONS='-c otto_seed.calls=20000 -c otto_seed.tenants=50' psql ..., or
--   `SET otto_seed.calls = '20000';` sent in the same session before the file)
-- or as one multi-statement string (simple query protocol, e.g. sea-orm's
-- `execute_unprepared`), which PostgreSQL runs as one transaction.
--
-- Sizes, read with current_setting('otto_seed.NAME', true), default when unset:
--   otto_seed.tenants     1000       tenants in all, the big one included
--   otto_seed.calls       1000000    calls
--   otto_seed.keys        1000000    webhook idempotency keys (webhook_events)
--   otto_seed.deliveries  1000000    logged webhook deliveries (webhook_deliveries)
--   otto_seed.messages    200000     text messages
--   otto_seed.jobs        100000     queued jobs (at most two per missed inbound call)
--   otto_seed.big_tenant  org_bench  the tenant holding 10% of the calls, keys,
--                                    deliveries and messages (all of them when
--                                    otto_seed.tenants is 1)
-- The other tenants are org_seed_0001, org_seed_0002, ...; they share the other 90%
-- unevenly (tenant i of n-1 gets sqrt(i/(n-1)) - sqrt((i-1)/(n-1)) of it: the first
-- ~3%, the median ~0.07%).
--
-- What the rows look like, so that plans are those of production:
-- - calls: started over the last 1095 days, denser recently (about 9% in the last 30
--   days, 19% in 90, 48% in 365), inserted in time order as they would arrive; 70%
--   inbound, a quarter of those missed; booked on some answered calls; 40% assigned to
--   one of the tenant's reps; customers drawn from a per-tenant pool (repeat callers),
--   each with one '+1' and ten-digit number (a four-digit search matches about one
--   number in ten thousand as a suffix, about eight anywhere) and a name
--   from a list (about one in forty a Smith; 15% unnamed).
-- - webhook_events: last seen evenly over 180 days, so about half are older than
--   IDEMPOTENCY_TTL_DAYS (90) and `otto-server purge` deletes them.
-- - webhook_deliveries: 80% received over the last 60 days, 20% between 91 and 120
--   days ago, past WEBHOOK_LOG_RETENTION_DAYS (default: IDEMPOTENCY_TTL_DAYS, 90), so
--   the purge has work; callrail 60%, twilio 30%, clerk and bland 5% each; outcomes
--   processed 90%, duplicate_ignored 7%, failed 2%, unroutable 1% (no tenant; the
--   purge keeps them); applied bodies redacted as Otto stores them.
-- - messages: threads of 1 to 7 messages with customers of calls (so a customer's
--   thread gathers every thread of their calls), the first two linked to the call;
--   the thread of a missed call recovered by text starts with that text.
-- - outbound_actions: an 'sms' for 35% of the missed inbound calls that have no
--   queued job (the dashboard's recovered_by_sms), 5% of them never completed.
-- - jobs: 'queued' missed_call_recovery and ai_follow_up jobs for missed inbound
--   calls, payloads as the CallRail webhook enqueues them; 70% due (run_at in the
--   last 6 hours), 30% due within 12 hours. Every seeded tenant has both automatic
--   follow-ups switched off in tenant_settings, so a worker that leases one skips it
--   ("... are off for this company") without calling Twilio or Bland.
-- - tenants, tenant_settings, provider_accounts (a CallRail company and a Twilio
--   account per tenant, no signing key), users and memberships (an owner and 2-8
--   reps per tenant). live_event_sequences needs no row (taken by upsert).
-- - dashboard_settled_hours, when that table exists (migration 21): the hours of the
--   first days of the last 7, 30, 90 and 365 days for every tenant, not counted.
-- - call_search_terms, when that table exists (migration 13): the terms of every
--   call (with its start, from migration 17), by otto_core::calls::search_terms's
--   rule written in SQL, which agrees with
--   it on the seed's ASCII names and digits (not on every text: the migration itself
--   makes terms in Rust).
--
-- Expects an empty migrated database (it fails on a second run: unique keys). Run it
-- as a superuser or a role with BYPASSRLS: row-level security is forced on these
-- tables. It ends with ANALYZE; VACUUM cannot run inside a multi-statement string (a
-- transaction block), so callers that want index-only scans run `VACUUM ANALYZE`
-- afterwards themselves. It sets work_mem, maintenance_work_mem, jit (off: compiling
-- these wide expressions costs seconds a statement) and client_min_messages for its
-- session and resets them at the end. random() is seeded, so the same sizes give the
-- same rows (ids, and what is derived from them, apart).

SET work_mem = '256MB';
SET maintenance_work_mem = '256MB';
SET jit = off;
SET client_min_messages = warning;
SELECT setseed(0.4217);

-- The sizes, read once.
DROP TABLE IF EXISTS pg_temp.seed_params;
CREATE TEMP TABLE seed_params AS
SELECT tenants, calls, keys, deliveries, messages, jobs, big_tenant, seeded_at,
       CASE WHEN tenants = 1 THEN messages ELSE round(messages * 0.1)::int END AS big_messages
FROM (
    SELECT greatest(1, COALESCE(NULLIF(current_setting('otto_seed.tenants', true), ''), '1000')::int) AS tenants,
           greatest(0, COALESCE(NULLIF(current_setting('otto_seed.calls', true), ''), '1000000')::int) AS calls,
           greatest(0, COALESCE(NULLIF(current_setting('otto_seed.keys', true), ''), '1000000')::int) AS keys,
           greatest(0, COALESCE(NULLIF(current_setting('otto_seed.deliveries', true), ''), '1000000')::int) AS deliveries,
           greatest(0, COALESCE(NULLIF(current_setting('otto_seed.messages', true), ''), '200000')::int) AS messages,
           greatest(0, COALESCE(NULLIF(current_setting('otto_seed.jobs', true), ''), '100000')::int) AS jobs,
           COALESCE(NULLIF(current_setting('otto_seed.big_tenant', true), ''), 'org_bench') AS big_tenant,
           date_trunc('second', clock_timestamp()) AS seeded_at
) AS read;

-- A UUIDv7 (as Otto's ids are) for a time: its milliseconds, the version digit 7,
-- the variant bits, random bits (from random(): gen_random_uuid() costs twice as much).
CREATE OR REPLACE FUNCTION pg_temp.seed_uuid7(at timestamptz) RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0')
            || to_hex(28672 + floor(random() * 4096)::int)
            || to_hex(32768 + floor(random() * 16384)::int)
            || lpad(to_hex(floor(random() * 281474976710656)::bigint), 12, '0'))::uuid
$$;

-- A tenant index drawn as the header says: 0 (the big tenant) for 10% (all when
-- there is one tenant), else 1..n-1, skewed towards the first.
CREATE OR REPLACE FUNCTION pg_temp.seed_tenant(tenants int) RETURNS int
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN tenants = 1 OR random() < 0.1 THEN 0
                ELSE least(tenants - 1, 1 + floor((tenants - 1) * random() ^ 2)::int) END
$$;

-- The tenants, with what the rows below derive from them.
DROP TABLE IF EXISTS pg_temp.seed_tenants;
CREATE TEMP TABLE seed_tenants AS
SELECT idx, id,
       'user_' || regexp_replace(id, '^org_', '') AS user_prefix,
       CASE WHEN idx = 0 THEN 8 ELSE 2 + idx % 7 END AS reps,
       -- Customers: about 0.6 per expected call, at least 3.
       greatest(3, ceil(p.calls * share * 0.6))::int AS customers,
       'COM' || md5('company:' || id) AS company,
       'AC' || md5('twilio:' || id) AS twilio_account,
       '+1' || (2000000000 + abs(hashtext('tracking:' || id)::bigint) % 8000000000)::text AS tracking_number
FROM seed_params p,
     LATERAL (
         SELECT idx,
                CASE WHEN idx = 0 THEN p.big_tenant
                     ELSE 'org_seed_' || lpad(idx::text, greatest(4, length((p.tenants - 1)::text)), '0')
                END AS id,
                CASE WHEN p.tenants = 1 THEN 1.0
                     WHEN idx = 0 THEN 0.1
                     ELSE 0.9 * (sqrt(idx::float8 / (p.tenants - 1)) - sqrt((idx - 1)::float8 / (p.tenants - 1)))
                END AS share
         FROM generate_series(0, p.tenants - 1) AS idx
     ) AS t;
CREATE UNIQUE INDEX ON seed_tenants (idx);
ANALYZE seed_tenants;

INSERT INTO tenants (id, name, slug, created_at, updated_at)
SELECT t.id,
       CASE WHEN t.idx = 0 THEN 'Bench Company' ELSE 'Seed Company ' || t.idx END,
       CASE WHEN t.idx = 0 THEN 'bench-company' ELSE 'seed-company-' || t.idx END,
       p.seeded_at - interval '1100 days', p.seeded_at - interval '1100 days'
FROM seed_tenants t, seed_params p;

INSERT INTO tenant_settings (tenant_id, missed_call_sms_enabled, missed_call_sms_template,
    sms_from_number, updated_at, ai_follow_up_enabled, quiet_hours_start, quiet_hours_end,
    time_zone)
SELECT t.id, false, NULL, t.tracking_number, p.seeded_at - interval '30 days', false,
       NULL, NULL, NULL
FROM seed_tenants t, seed_params p;

INSERT INTO provider_accounts (provider, account_id, tenant_id, created_at, signing_key)
SELECT provider, account, t.id, p.seeded_at - interval '1100 days', NULL
FROM seed_tenants t, seed_params p,
     LATERAL (VALUES ('callrail', t.company), ('twilio', t.twilio_account)) AS a (provider, account);

INSERT INTO users (id, email, name, created_at, updated_at)
SELECT u.id, u.id || '@example.com', initcap(replace(u.id, '_', ' ')),
       p.seeded_at - interval '1000 days', p.seeded_at - interval '1000 days'
FROM seed_tenants t, seed_params p,
     LATERAL (SELECT t.user_prefix || '_owner' AS id
              UNION ALL
              SELECT t.user_prefix || '_rep' || k FROM generate_series(1, t.reps) AS k) AS u;

INSERT INTO memberships (id, tenant_id, user_id, role, created_at)
SELECT pg_temp.seed_uuid7(p.seeded_at - interval '1000 days'), t.id, u.id, u.role,
       p.seeded_at - interval '1000 days'
FROM seed_tenants t, seed_params p,
     LATERAL (SELECT t.user_prefix || '_owner' AS id, 'admin' AS role
              UNION ALL
              SELECT t.user_prefix || '_rep' || k, 'member'
              FROM generate_series(1, t.reps) AS k) AS u;

-- Calls, in the order they started. Row n of N started at the inverse of the
-- recency-weighted distribution at (N - n) / N, so no sort is needed.
INSERT INTO calls (id, tenant_id, provider, external_id, direction, customer_name,
    customer_number, answered, duration_seconds, started_at, created_at, updated_at,
    booked, appointment_at, notes, assigned_rep)
SELECT pg_temp.seed_uuid7(d.created_at),
       t.id,
       d.provider,
       CASE WHEN d.provider = 'callrail' THEN 'CAL' ELSE 'CA' END || md5('call:' || d.n),
       d.direction,
       CASE WHEN abs(hashint8extended(d.customer, 3)) % 100 < 15 THEN NULL
            ELSE (ARRAY['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael',
                        'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan',
                        'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Karen', 'Daniel',
                        'Lisa', 'Matthew', 'Nancy', 'Anthony', 'Ana', 'Mark', 'Sandra', 'Wei',
                        'Ashley', 'Luis', 'Emily', 'Kevin', 'Donna', 'Brian', 'Michelle',
                        'Priya', 'Olivia', 'Ahmed', 'Grace'])
                     [1 + abs(hashint8extended(d.customer, 1)) % 40]
                 || ' ' ||
                 (ARRAY['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller',
                        'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez',
                        'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
                        'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark',
                        'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King',
                        'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores'])
                     [1 + abs(hashint8extended(d.customer, 2)) % 40]
       END,
       '+1' || (2000000000 + abs(hashint8extended(d.customer, 0)) % 8000000000)::text,
       d.answered,
       d.duration,
       d.started_at,
       d.created_at,
       CASE WHEN d.booked IS NOT NULL OR d.rep IS NOT NULL OR d.note IS NOT NULL
            THEN greatest(d.created_at, least(p.seeded_at, d.started_at + interval '2 hours'))
            ELSE d.created_at END,
       d.booked,
       CASE WHEN d.booked THEN date_trunc('hour', d.started_at) + (1 + d.r_appt * 13)::int * interval '1 day' END,
       d.note,
       CASE WHEN d.rep IS NOT NULL THEN t.user_prefix || '_rep' || (1 + floor(d.rep * t.reps))::int END
FROM seed_params p,
     LATERAL (
         SELECT n, tenant, started_at, direction, answered, provider, rep, r_appt, duration,
                least(p.seeded_at, started_at + (duration + 5) * interval '1 second') AS created_at,
                tenant::bigint * 100000000 + customer_index AS customer,
                CASE WHEN answered AND r_booked < 0.22 THEN true
                     WHEN answered AND r_booked < 0.5 THEN false
                     WHEN NOT answered AND r_booked < 0.05 THEN false END AS booked,
                CASE WHEN r_note < 0.06 THEN
                     (ARRAY['Wants a quote for next week', 'Called back, left voicemail',
                            'Existing customer, billing question', 'Asked about weekend hours',
                            'Emergency repair, sent a technician', 'Price shopping'])
                         [1 + floor(r_note * 100)::int % 6]
                END AS note
         FROM (
             SELECT n,
                    tenant,
                    p.seeded_at - interval '1095 days' * power((p.calls - n + random()) / greatest(p.calls, 1), 1.5)
                        AS started_at,
                    CASE WHEN r_direction < 0.7 THEN 'inbound' ELSE 'outbound' END AS direction,
                    CASE WHEN r_direction < 0.7 THEN r_answered < 0.75 ELSE r_answered < 0.6 END AS answered,
                    CASE WHEN random() < 0.9 THEN 'callrail' ELSE 'twilio' END AS provider,
                    CASE WHEN r_rep < 0.4 THEN r_rep / 0.4 END AS rep,
                    floor(random() * st.customers)::bigint AS customer_index,
                    CASE WHEN CASE WHEN r_direction < 0.7 THEN r_answered < 0.75 ELSE r_answered < 0.6 END
                         THEN 20 + floor(random() ^ 2 * 1200)::int
                         ELSE floor(random() * 35)::int END AS duration,
                    random() AS r_booked, random() AS r_note, random() AS r_appt
             FROM (SELECT n, pg_temp.seed_tenant(p.tenants) AS tenant, random() AS r_direction,
                          random() AS r_answered, random() AS r_rep
                   FROM generate_series(1, p.calls) AS n) AS drawn
             JOIN seed_tenants st ON st.idx = drawn.tenant
         ) AS raw
         OFFSET 0
     ) AS d
JOIN seed_tenants t ON t.idx = d.tenant;

-- The queued follow-ups' calls: missed inbound calls picked at random, two jobs each.
DROP TABLE IF EXISTS pg_temp.seed_job_calls;
CREATE TEMP TABLE seed_job_calls AS
SELECT c.id, c.tenant_id, c.provider, c.external_id
FROM calls c
WHERE c.direction = 'inbound' AND NOT c.answered AND c.customer_number IS NOT NULL
ORDER BY random()
LIMIT (SELECT ceil(jobs / 2.0) FROM seed_params);
CREATE UNIQUE INDEX ON seed_job_calls (id);

INSERT INTO jobs (id, tenant_id, kind, unique_key, payload, status, attempts, run_at,
    lease_until, last_error, trace_context, created_at, updated_at)
SELECT pg_temp.seed_uuid7(j.run_at - interval '1 minute'), j.tenant_id, j.kind,
       j.kind || ':' || j.tenant_id || ':' || j.provider || ':' || j.external_id,
       jsonb_build_object('provider', j.provider, 'call_external_id', j.external_id)::text,
       'queued', 0, j.run_at, NULL, NULL, NULL,
       j.run_at - interval '1 minute', j.run_at - interval '1 minute'
FROM (
    SELECT c.tenant_id, c.provider, c.external_id, k.kind,
           CASE WHEN random() < 0.7 THEN p.seeded_at - random() * interval '6 hours'
                ELSE p.seeded_at + random() * interval '12 hours' END AS run_at
    FROM seed_job_calls c, seed_params p,
         LATERAL (VALUES ('missed_call_recovery'), ('ai_follow_up')) AS k (kind)
    LIMIT (SELECT jobs FROM seed_params)
) AS j;

-- Missed calls whose customer got the recovery text (not those still queued above).
DROP TABLE IF EXISTS pg_temp.seed_recovered;
CREATE TEMP TABLE seed_recovered AS
SELECT c.id AS call_id, c.tenant_id, c.provider, c.external_id, c.customer_number,
       c.customer_name, t.tracking_number,
       least(p.seeded_at, c.started_at + interval '2 minutes') AS started_at,
       CASE WHEN random() < 0.95 THEN least(p.seeded_at, c.started_at + interval '2 minutes 2 seconds') END
           AS completed_at
FROM calls c
JOIN seed_tenants t ON t.id = c.tenant_id
CROSS JOIN seed_params p
WHERE c.direction = 'inbound' AND NOT c.answered AND c.customer_number IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM seed_job_calls j WHERE j.id = c.id)
  AND random() < 0.35;
CREATE UNIQUE INDEX ON seed_recovered (call_id);
ANALYZE seed_recovered;

INSERT INTO outbound_actions (id, tenant_id, kind, follow_up_key, call_id, to_number,
    from_number, body, provider_ref, started_at, completed_at)
SELECT pg_temp.seed_uuid7(r.started_at), r.tenant_id, 'sms',
       'missed_call_recovery:' || r.tenant_id || ':' || r.provider || ':' || r.external_id,
       r.call_id, r.customer_number, r.tracking_number,
       'Hi' || COALESCE(' ' || split_part(r.customer_name, ' ', 1), '')
           || ', sorry we missed your call! How can we help? Reply STOP to opt out.',
       CASE WHEN r.completed_at IS NOT NULL THEN 'SM' || md5('sms:' || r.call_id) END,
       r.started_at, r.completed_at
FROM seed_recovered r;

-- Messages: threads started by calls picked at random (10% of the messages in the big
-- tenant's), 1 to 7 messages each, until each share is full.
INSERT INTO messages (id, tenant_id, call_id, provider, external_id, direction,
    customer_number, body, sent_at, created_at)
SELECT pg_temp.seed_uuid7(m.sent_at), m.tenant_id, m.call_id, m.provider, m.external_id,
       m.direction, m.customer_number, m.body, m.sent_at, m.sent_at
FROM (
    SELECT x.*, row_number() OVER (PARTITION BY x.big ORDER BY x.thread, x.position) AS taken
    FROM (
        SELECT th.big, th.thread, pos.position,
               th.tenant_id,
               CASE WHEN pos.position <= 2 THEN th.call_id END AS call_id,
               CASE WHEN pos.position = 1 AND r.completed_at IS NOT NULL THEN 'twilio'
                    ELSE th.provider END AS provider,
               CASE WHEN pos.position = 1 AND r.completed_at IS NOT NULL
                    THEN 'SM' || md5('sms:' || th.call_id)
                    ELSE 'SM' || md5('message:' || th.call_id || ':' || pos.position) END
                   AS external_id,
               CASE WHEN pos.position = 1 AND r.completed_at IS NOT NULL THEN 'outbound'
                    WHEN (pos.position + th.thread) % 2 = 0 THEN 'inbound'
                    ELSE 'outbound' END AS direction,
               th.customer_number,
               CASE WHEN pos.position = 1 AND r.completed_at IS NOT NULL
                    THEN 'Hi' || COALESCE(' ' || split_part(r.customer_name, ' ', 1), '')
                         || ', sorry we missed your call! How can we help? Reply STOP to opt out.'
                    ELSE (ARRAY['Hi, is this still available?', 'Can someone come out tomorrow morning?',
                                'Thanks, see you then.', 'What time works for you?',
                                'We can be there between 9 and 11.', 'How much would that be?',
                                'Please call me back when you can.', 'Your appointment is confirmed.',
                                'Running 15 minutes late, sorry!', 'Great, thank you!'])
                         [1 + (th.thread * 7 + pos.position) % 10]
               END AS body,
               CASE WHEN pos.position = 1 AND r.completed_at IS NOT NULL THEN r.completed_at
                    ELSE least(p.seeded_at - pos.position * interval '1 second',
                               th.started_at + interval '3 minutes'
                               + (pos.position - 1) * interval '3 hours' * (0.5 + random()))
               END AS sent_at
        FROM (
            SELECT picked.*, row_number() OVER () AS thread
            FROM (
                -- (The provider comes from the id, not random(): PostgreSQL would
                -- take a random() of the select list for the sort key's.)
                (SELECT c.id AS call_id, c.tenant_id, c.customer_number, c.started_at,
                        CASE WHEN abs(hashtext(c.id::text)) % 100 < 85 THEN 'twilio' ELSE 'callrail' END
                            AS provider,
                        true AS big
                 FROM calls c, seed_params p
                 WHERE c.tenant_id = p.big_tenant AND c.customer_number IS NOT NULL
                 ORDER BY random()
                 LIMIT (SELECT ceil(big_messages / 4.0) + 7 FROM seed_params))
                UNION ALL
                (SELECT c.id, c.tenant_id, c.customer_number, c.started_at,
                        CASE WHEN abs(hashtext(c.id::text)) % 100 < 85 THEN 'twilio' ELSE 'callrail' END,
                        false
                 FROM calls c, seed_params p
                 WHERE c.tenant_id <> p.big_tenant AND c.customer_number IS NOT NULL
                 ORDER BY random()
                 LIMIT (SELECT ceil((messages - big_messages) / 4.0) + 7 FROM seed_params))
            ) AS picked
        ) AS th
        CROSS JOIN seed_params p
        CROSS JOIN LATERAL generate_series(1, 1 + (th.thread % 7)::int) AS pos (position)
        LEFT JOIN seed_recovered r ON r.call_id = th.call_id
    ) AS x
) AS m, seed_params p
WHERE m.taken <= CASE WHEN m.big THEN p.big_messages ELSE p.messages - p.big_messages END;

-- Webhook idempotency keys, in the order they were first processed (evenly over 180
-- days; 3% were seen again up to an hour later).
INSERT INTO webhook_events (id, tenant_id, provider, event, external_id, body_digest,
    first_processed_at, last_seen_at, attempts, first_delivery_id)
SELECT pg_temp.seed_uuid7(k.first_at), t.id, k.provider, k.event,
       CASE k.provider WHEN 'callrail' THEN 'CAL' WHEN 'twilio' THEN 'CA'
                       WHEN 'clerk' THEN 'msg_' ELSE 'bland_' END || k.h,
       k.h || reverse(k.h),  -- 64 hex digits, as a SHA-256 (one hash call per row)
       k.first_at,
       least(p.seeded_at, k.first_at + CASE WHEN k.attempts > 1 THEN random() * interval '1 hour'
                                             ELSE interval '0' END),
       k.attempts,
       pg_temp.seed_uuid7(k.first_at)
FROM seed_params p,
     LATERAL (
         SELECT n, tenant, first_at, provider, attempts, md5('key:' || n) AS h,
                CASE provider
                    WHEN 'callrail' THEN (ARRAY['pre-call', 'call-complete', 'call-complete',
                                                'call-modified', 'sms'])[1 + floor(r_event * 5)::int]
                    WHEN 'twilio' THEN (ARRAY['call-status', 'call-status', 'sms',
                                              'recording'])[1 + floor(r_event * 4)::int]
                    WHEN 'clerk' THEN (ARRAY['organizationMembership.created', 'user.updated',
                                             'organization.updated'])[1 + floor(r_event * 3)::int]
                    ELSE 'bland'
                END AS event
         FROM (
             SELECT n, pg_temp.seed_tenant(p.tenants) AS tenant,
                    p.seeded_at - interval '180 days' * ((p.keys - n + random()) / greatest(p.keys, 1))
                        AS first_at,
                    CASE WHEN r_provider < 0.6 THEN 'callrail' WHEN r_provider < 0.9 THEN 'twilio'
                         WHEN r_provider < 0.95 THEN 'clerk' ELSE 'bland' END AS provider,
                    CASE WHEN random() < 0.03 THEN 2 + floor(random() * 3)::int ELSE 1 END AS attempts,
                    random() AS r_event
             FROM (SELECT n, random() AS r_provider FROM generate_series(1, p.keys) AS n) AS drawn
         ) AS raw
         OFFSET 0
     ) AS k
JOIN seed_tenants t ON t.idx = k.tenant;

-- The delivery log, in the order received: the first 20% past the retention (91 to
-- 120 days ago), the rest over the last 60 days.
INSERT INTO webhook_deliveries (id, tenant_id, provider, route, event, external_id,
    outcome, conflict, attempts, error, body_digest, body, body_redacted, content_type,
    message_id, accounts, trace_id, received_at, replays, last_replayed_at)
SELECT pg_temp.seed_uuid7(d.received_at),
       CASE WHEN d.outcome <> 'unroutable' THEN d.tenant_id END,
       d.provider, d.route,
       CASE WHEN d.provider = 'clerk' THEN d.clerk_type ELSE d.route END,
       CASE WHEN d.outcome = 'failed' AND d.n % 2 = 0 THEN NULL ELSE d.external_id END,
       d.outcome,
       d.outcome = 'duplicate_ignored' AND d.n % 20 = 0,
       CASE WHEN d.outcome = 'duplicate_ignored' THEN 2 + d.n % 2 ELSE 1 END,
       CASE WHEN d.outcome = 'failed' THEN
            (ARRAY['the body is not valid JSON: expected value at line 1 column 1',
                   'the database is unavailable: pool timed out',
                   'the payload lacks `resource_id`'])[1 + d.n % 3]
       END,
       encode(sha256(d.body), 'hex'),
       d.body,
       d.redacted,
       CASE WHEN d.provider = 'twilio' THEN 'application/x-www-form-urlencoded'
            ELSE 'application/json' END,
       CASE WHEN d.provider = 'clerk' THEN 'msg_' || substr(md5('svix:' || d.n), 1, 27) END,
       CASE d.provider
           WHEN 'callrail' THEN 'callrail:' || d.company
           WHEN 'twilio' THEN 'twilio:' || d.twilio_account
           WHEN 'clerk' THEN CASE WHEN d.outcome = 'unroutable' THEN '' ELSE 'tenant:' || d.tenant_id END
           ELSE ''
       END,
       reverse(d.h),
       d.received_at, 0, NULL
FROM (
    SELECT s.*,
           convert_to(CASE
               WHEN s.provider = 'twilio' THEN
                   format('AccountSid=%s&ApiVersion=2010-04-01&CallSid=%s&CallStatus=%s&Direction=inbound&From=%s&To=%%2B%s&CallDuration=%s&Timestamp=%s',
                          s.twilio_account, s.external_id,
                          CASE WHEN s.n % 4 = 0 THEN 'no-answer' ELSE 'completed' END,
                          CASE WHEN s.redacted THEN '[REDACTED_PHONE]' ELSE '%2B1' || s.phone END,
                          substr(s.tracking_number, 2), s.n % 900,
                          to_char(s.received_at AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS "+0000"'))
               WHEN s.provider = 'clerk' THEN
                   format('{"data":{"id":"%s","organization":{"id":"%s","name":"%s"},"public_user_data":{"user_id":"user_%s","identifier":"%s"},"role":"org:member"},"object":"event","type":"%s","timestamp":%s}',
                          s.external_id, s.tenant_id, s.tenant_name,
                          substr(reverse(s.h), 1, 24),
                          CASE WHEN s.redacted THEN '[REDACTED_EMAIL]' ELSE 'someone@example.com' END,
                          s.clerk_type, floor(extract(epoch FROM s.received_at) * 1000)::bigint)
               WHEN s.provider = 'bland' THEN
                   format('{"call_id":"%s","status":"completed","completed":true,"call_length":%s,"to":"%s","summary":"%s","concatenated_transcript":"%s","metadata":{"tenant_id":"%s"}}',
                          s.external_id, round((s.n % 300) / 60.0, 2),
                          CASE WHEN s.redacted THEN '[REDACTED_PHONE]' ELSE '+1' || s.phone END,
                          CASE WHEN s.redacted THEN '[REDACTED]' ELSE 'Customer wants a call back about a quote.' END,
                          CASE WHEN s.redacted THEN '[REDACTED]' ELSE 'Hello, this is a follow-up call about your missed call earlier today.' END,
                          s.tenant_id)
               ELSE
                   format('{"resource_id":"%s","company_resource_id":"%s","call_type":"%s","direction":"inbound","answered":%s,"customer_name":"%s","customer_phone_number":"%s","tracking_phone_number":"%s","business_phone_number":"%s","duration":"%s","start_time":"%s","source":"Google Organic","keywords":"plumber near me","landing_page_url":"https://www.example.com/services/%s","tags":[],"first_call":%s}',
                          split_part(s.external_id, ':', 1), s.company,
                          CASE WHEN s.n % 4 = 0 THEN 'voicemail' ELSE 'inbound' END,
                          CASE WHEN s.n % 4 = 0 THEN 'false' ELSE 'true' END,
                          CASE WHEN s.redacted THEN '[REDACTED]' ELSE 'Maria Smith' END,
                          CASE WHEN s.redacted THEN '[REDACTED_PHONE]' ELSE '+1' || s.phone END,
                          s.tracking_number, s.tracking_number, s.n % 900,
                          to_char(s.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                          s.n % 97, CASE WHEN s.n % 3 = 0 THEN 'true' ELSE 'false' END)
           END, 'UTF8') AS body
    FROM (
        SELECT r.n, r.received_at, r.provider, r.route, r.outcome, r.h,
               r.outcome IN ('processed', 'duplicate_ignored') AS redacted,
               t.id AS tenant_id,
               CASE WHEN t.idx = 0 THEN 'Bench Company' ELSE 'Seed Company ' || t.idx END AS tenant_name,
               t.tracking_number,
               -- An unroutable delivery names an account no tenant has linked.
               CASE WHEN r.outcome = 'unroutable' THEN 'COM' || md5('unlinked:' || r.n % 50)
                    ELSE t.company END AS company,
               CASE WHEN r.outcome = 'unroutable' THEN 'AC' || md5('unlinked:' || r.n % 50)
                    ELSE t.twilio_account END AS twilio_account,
               (ARRAY['organizationMembership.created', 'organizationMembership.updated',
                      'organization.updated'])[1 + r.n % 3] AS clerk_type,
               -- One hash per row gives the external id, the trace id and the rest.
               CASE r.provider
                   WHEN 'callrail' THEN 'CAL' || r.h
                       || CASE WHEN r.route = 'call-modified' THEN ':' || substr(reverse(r.h), 9, 16) ELSE '' END
                   WHEN 'twilio' THEN CASE r.route WHEN 'sms' THEN 'SM' WHEN 'recording' THEN 'RE' ELSE 'CA' END
                       || r.h
                   WHEN 'clerk' THEN 'orgmem_' || substr(r.h, 1, 24)
                   ELSE 'bland_' || r.h
               END AS external_id,
               (2000000000 + abs(hashint8extended(r.n, 11)) % 8000000000)::text AS phone
        FROM seed_params p,
             LATERAL (
                 SELECT n, tenant, received_at, provider, md5('delivery:' || n) AS h,
                        CASE provider
                            WHEN 'callrail' THEN (ARRAY['pre-call', 'call-complete', 'call-complete',
                                                        'call-modified', 'sms'])[1 + floor(r_route * 5)::int]
                            WHEN 'twilio' THEN (ARRAY['call-status', 'call-status', 'sms',
                                                      'recording'])[1 + floor(r_route * 4)::int]
                            ELSE provider
                        END AS route,
                        CASE WHEN r_outcome < 0.90 THEN 'processed'
                             WHEN r_outcome < 0.97 THEN 'duplicate_ignored'
                             WHEN r_outcome < 0.99 THEN 'failed'
                             ELSE 'unroutable' END AS outcome
                 FROM (
                     SELECT n, pg_temp.seed_tenant(p.tenants) AS tenant,
                            CASE WHEN n <= old
                                 THEN p.seeded_at - interval '120 days'
                                      + interval '29 days' * ((n - 1 + random()) / greatest(old, 1))
                                 ELSE p.seeded_at - interval '60 days'
                                      + interval '60 days' * ((n - old - 1 + random()) / greatest(p.deliveries - old, 1))
                            END AS received_at,
                            CASE WHEN r_provider < 0.6 THEN 'callrail' WHEN r_provider < 0.9 THEN 'twilio'
                                 WHEN r_provider < 0.95 THEN 'clerk' ELSE 'bland' END AS provider,
                            random() AS r_route, random() AS r_outcome
                     FROM (SELECT n, random() AS r_provider, (p.deliveries / 5) AS old
                           FROM generate_series(1, p.deliveries) AS n) AS drawn
                 ) AS raw
                 OFFSET 0
             ) AS r
        JOIN seed_tenants t ON t.idx = r.tenant
        OFFSET 0
    ) AS s
    OFFSET 0
) AS d;

-- The calls list's search terms (migration 13), when that table exists: the rule of
-- otto_core::calls::search_terms in SQL (exact for the seed's ASCII names and
-- digits), in index order. Its foreign key to calls doubles the insert's cost (each check locks
-- the call's row) and every call id is one just inserted, so the check is off for
-- this statement where the role may turn it off (session_replication_role: superuser).
DO $$
DECLARE
    unchecked boolean := false;
    -- Each term carries its call's start from migration 17 on.
    dated text;
BEGIN
    IF to_regclass('public.call_search_terms') IS NULL THEN
        RETURN;
    END IF;
    dated := CASE WHEN EXISTS (SELECT 1 FROM information_schema.columns
                               WHERE table_schema = current_schema()
                                 AND table_name = 'call_search_terms'
                                 AND column_name = 'started_at')
                  THEN ', started_at' ELSE '' END;
    BEGIN
        PERFORM set_config('session_replication_role', 'replica', true);
        unchecked := true;
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    EXECUTE format($sql$
        INSERT INTO call_search_terms (tenant_id, term, call_id %1$s)
        SELECT tenant_id, term, call_id %1$s FROM (
            SELECT c.tenant_id, left('w' || w.word, 64) AS term, c.id AS call_id, c.started_at
              FROM calls c,
                   LATERAL (SELECT word, row_number() OVER () AS position
                              FROM regexp_split_to_table(lower(c.customer_name), '\s+') AS word
                             WHERE word <> '') AS w
             WHERE w.position <= 16
            UNION ALL
            SELECT c.tenant_id, left('n' || reverse(regexp_replace(c.customer_number, '[^0-9]', '', 'g')), 64), c.id, c.started_at
              FROM calls c
             WHERE regexp_replace(c.customer_number, '[^0-9]', '', 'g') <> ''
        ) AS terms
        ORDER BY tenant_id, term, call_id
        ON CONFLICT DO NOTHING
    $sql$, dated);
    IF unchecked THEN
        PERFORM set_config('session_replication_role', 'origin', true);
    END IF;
END
$$;

-- The hours of settled days a day of dashboards leaves (migration 21), when that
-- table exists: for every tenant, the hours of the first days of the last 7, 30, 90
-- and 365 days, kept today. Not counted: the seed counts nothing for the dashboard
-- (a summary counts them and keeps the figures, as it would in production).
DO $$
BEGIN
    IF to_regclass('public.dashboard_settled_hours') IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO dashboard_settled_hours (tenant_id, utc_hour, generation, counted, kept_on)
    SELECT t.id, to_char(day + make_interval(hours => hour), 'YYYY-MM-DD"T"HH24'), 0, false,
           to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')
      FROM tenants t,
           unnest(ARRAY[7, 30, 90, 365]) AS ago,
           LATERAL (SELECT date_trunc('day', now() AT TIME ZONE 'UTC')
                           - make_interval(days => ago) AS day) AS first_day,
           generate_series(0, 23) AS hour
     ORDER BY 1, 2;
    ANALYZE dashboard_settled_hours;
END
$$;

RESET work_mem;
RESET maintenance_work_mem;
RESET jit;
RESET client_min_messages;

ANALYZE tenants;
ANALYZE tenant_settings;
ANALYZE provider_accounts;
ANALYZE users;
ANALYZE memberships;
ANALYZE calls;
ANALYZE jobs;
ANALYZE outbound_actions;
ANALYZE messages;
ANALYZE webhook_events;
ANALYZE webhook_deliveries;
DO $$
BEGIN
    IF to_regclass('public.call_search_terms') IS NOT NULL THEN
        EXECUTE 'ANALYZE call_search_terms';
    END IF;
END
$$;
