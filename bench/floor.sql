-- The floor: hand-written, set-based PostgreSQL that computes every number of one domain's SPEC 6.1
-- block on the Kratos shape plus the SDK audit table (ciam_security_audit_log), in UTC, with the
-- default settings (90 enrollment days, 30 step-up days, failures >= 3 in 7 days, 14+1 spike windows,
-- code_mfa_enabled = false). It is the least work a correct report must do: one pass over
-- identities + credentials (every config check in SQL), one pass over sessions (AMR unnested once),
-- and the audit reads the report needs. Run with:
--   psql -X -q -v as_of="'2026-01-01 12:00:00'" -f bench/floor.sql postgresql://.../mfastats_bench
\set ON_ERROR_STOP 1

-- 1. enrollment, methods, credential data quality: one pass over credentials, one over identities.
WITH cred AS (
  SELECT c.identity_id, t.name,
         jsonb_typeof(c.config) = 'object' AS obj,
         c.created_at,
         CASE WHEN t.name = 'totp' AND jsonb_typeof(c.config -> 'totp_url') = 'string'
              THEN lower(substr(c.config ->> 'totp_url', 1, 10)) = 'otpauth://' ELSE false END AS totp_ok,
         a.n_all, a.n_pwl, a.n_unused, a.n_addr,
         CASE WHEN t.name = 'totp' THEN jsonb_typeof(c.config -> 'totp_url') NOT IN ('string', 'null')
              WHEN t.name IN ('webauthn', 'passkey') THEN jsonb_typeof(c.config -> 'credentials') NOT IN ('array', 'null')
              WHEN t.name = 'lookup_secret' THEN jsonb_typeof(c.config -> 'recovery_codes') NOT IN ('array', 'null')
              WHEN t.name = 'code' THEN jsonb_typeof(c.config -> 'addresses') NOT IN ('array', 'null')
              ELSE false END AS wrong_field,
         CASE WHEN t.name <> 'code' THEN false
              WHEN coalesce(c.version, 0) = 0 THEN jsonb_typeof(c.config -> 'address_type') = 'string'
                                                  AND c.config ->> 'address_type' <> ''
              ELSE a.n_addr > 0 END AS code_ok
  FROM identity_credentials c
  LEFT JOIN identity_credential_types t ON t.id = c.identity_credential_type_id
  LEFT JOIN LATERAL (
    SELECT count(*) AS n_all,
           count(*) FILTER (WHERE jsonb_typeof(e.v) = 'object' AND e.v -> 'is_passwordless' = 'true'::jsonb) AS n_pwl,
           count(*) FILTER (WHERE jsonb_typeof(e.v) = 'object'
                              AND coalesce(jsonb_typeof(e.v -> 'used_at'), 'null') = 'null') AS n_unused,
           count(*) FILTER (WHERE jsonb_typeof(e.v) = 'object' AND jsonb_typeof(e.v -> 'address') = 'string'
                              AND e.v ->> 'address' <> '') AS n_addr
    FROM jsonb_array_elements(CASE
           WHEN t.name IN ('webauthn', 'passkey') AND jsonb_typeof(c.config -> 'credentials') = 'array' THEN c.config -> 'credentials'
           WHEN t.name = 'lookup_secret' AND jsonb_typeof(c.config -> 'recovery_codes') = 'array' THEN c.config -> 'recovery_codes'
           WHEN t.name = 'code' AND jsonb_typeof(c.config -> 'addresses') = 'array' THEN c.config -> 'addresses'
           ELSE '[]'::jsonb END) AS e(v)
    WHERE t.name IN ('webauthn', 'passkey', 'lookup_secret', 'code')) a ON true
), per_identity AS (
  SELECT identity_id,
         bool_or(name IN ('totp', 'webauthn')) AS seed_row,
         bool_or(totp_ok) AS totp,
         bool_or(name = 'webauthn' AND n_all - n_pwl > 0) AS wa2,
         bool_or(name = 'webauthn' AND n_pwl > 0) AS wapl,
         max(n_unused) FILTER (WHERE name = 'lookup_secret') AS lookup_unused,
         bool_or(name = 'lookup_secret' AND n_all > 0) AS lookup_nonempty,
         bool_or(code_ok) AS code_v1,
         bool_or(name = 'passkey' AND n_all > 0) AS passkey,
         bool_or(name IN ('password', 'oidc', 'saml', 'passkey')) AS first_factor,
         count(*) FILTER (WHERE name IS NULL OR name NOT IN ('password', 'oidc', 'totp', 'webauthn', 'lookup_secret',
                          'code', 'passkey', 'saml', 'deviceauthn', 'profile', 'identifier_first')) AS unknown_rows,
         count(*) FILTER (WHERE name IN ('password', 'oidc', 'totp', 'webauthn', 'lookup_secret', 'code', 'passkey',
                          'saml', 'deviceauthn', 'profile', 'identifier_first') AND (NOT obj OR wrong_field)) AS malformed_rows,
         count(*) FILTER (WHERE created_at IS NULL) AS missing_rows,
         count(*) FILTER (WHERE created_at > :as_of AND (totp_ok OR (name = 'webauthn' AND n_all - n_pwl > 0))) AS future_rows
  FROM cred GROUP BY identity_id
), ident AS (
  SELECT CASE WHEN lower(i.state) = 'active' THEN 'active' WHEN lower(i.state) = 'inactive' THEN 'inactive'
              ELSE 'unknown' END AS state,
         lower(i.available_aal) AS cached,
         coalesce(p.seed_row, false) AS seed_row, coalesce(p.totp, false) AS totp, coalesce(p.wa2, false) AS wa2,
         coalesce(p.wapl, false) AS wapl, p.lookup_unused, coalesce(p.lookup_nonempty, false) AS lookup_nonempty,
         coalesce(p.code_v1, false) AS code, coalesce(p.passkey, false) AS passkey,
         coalesce(p.first_factor, false) AS first_factor,
         coalesce(p.lookup_unused, 0) > 0 AS lookup_usable,
         coalesce(p.lookup_nonempty AND coalesce(p.lookup_unused, 0) = 0, false) AS lookup_exhausted,
         p.unknown_rows, p.malformed_rows, p.missing_rows, p.future_rows
  FROM identities i LEFT JOIN per_identity p ON p.identity_id = i.id
), ranked AS (
  SELECT *, (totp OR wa2) AS mfa,
         totp::int + wa2::int + lookup_usable::int AS factors,
         CASE WHEN totp OR wa2 OR lookup_nonempty THEN 'aal2'
              WHEN first_factor OR wapl OR code THEN 'aal1' ELSE 'aal0' END AS rule
  FROM ident
)
SELECT count(*) FILTER (WHERE state = 'active') AS total,
       count(*) FILTER (WHERE state = 'active' AND mfa) AS enrolled,
       count(*) FILTER (WHERE state = 'active' AND factors > 0) AS aal2_capable,
       count(*) FILTER (WHERE seed_row) AS seed_enrolled,
       count(*) FILTER (WHERE state <> 'active') AS inactive_total,
       count(*) FILTER (WHERE state <> 'active' AND mfa) AS inactive_with_mfa,
       count(*) FILTER (WHERE (cached IS NULL AND rule = 'aal2') OR cached <> rule) AS available_aal_mismatch,
       count(*) FILTER (WHERE cached IS NULL) AS available_aal_null,
       count(*) FILTER (WHERE state = 'active' AND totp) AS totp_users,
       count(*) FILTER (WHERE state = 'active' AND wa2) AS webauthn_users,
       count(*) FILTER (WHERE state = 'active' AND totp AND wa2) AS both,
       count(*) FILTER (WHERE state = 'active' AND lookup_usable) AS lookup_secret_usable,
       count(*) FILTER (WHERE state = 'active' AND lookup_exhausted) AS lookup_secret_exhausted,
       count(*) FILTER (WHERE state = 'active' AND lookup_unused = 0) AS remaining_0,
       count(*) FILTER (WHERE state = 'active' AND lookup_unused BETWEEN 1 AND 3) AS remaining_1_3,
       count(*) FILTER (WHERE state = 'active' AND lookup_unused >= 4) AS remaining_4,
       count(*) FILTER (WHERE state = 'active' AND code) AS code_users,
       count(*) FILTER (WHERE state = 'active' AND passkey) AS passkey_users,
       count(*) FILTER (WHERE state = 'active' AND wapl AND NOT wa2) AS webauthn_passwordless_only,
       count(*) FILTER (WHERE state = 'active' AND factors = 0) AS factors_0,
       count(*) FILTER (WHERE state = 'active' AND factors = 1) AS factors_1,
       count(*) FILTER (WHERE state = 'active' AND factors = 2) AS factors_2,
       count(*) FILTER (WHERE state = 'active' AND factors >= 3) AS factors_3,
       count(*) FILTER (WHERE state = 'active' AND wa2) AS tier_phishing_resistant,
       count(*) FILTER (WHERE state = 'active' AND totp AND NOT wa2) AS tier_app_code,
       count(*) FILTER (WHERE state = 'active' AND lookup_usable AND NOT (wa2 OR totp)) AS tier_recovery_codes_only,
       count(*) FILTER (WHERE state = 'unknown') AS unknown_state,
       sum(unknown_rows) AS unknown_credential_types, sum(malformed_rows) AS malformed_config,
       sum(missing_rows) AS missing_timestamps, sum(future_rows) AS enrollments_after_as_of
FROM ranked;

-- 2. sessions: aal2_sessions, malformed AMR, and from AMR the dated aal2 steps (distinct per session,
-- method and instant), undated aal2 entries, steps after as_of, aal2 sessions without a dated step.
WITH entries AS (
  SELECT s.id, s.aal AS session_aal, e.v ->> 'method' AS method, lower(e.v ->> 'aal') AS aal,
         CASE WHEN (e.v ->> 'completed_at') ~ '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$'
              THEN (e.v ->> 'completed_at')::timestamptz AT TIME ZONE 'UTC' END AS at
  FROM sessions s
  CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(s.authentication_methods) = 'array'
                                          THEN s.authentication_methods ELSE '[]'::jsonb END) AS e(v)
  WHERE jsonb_typeof(e.v) = 'object'
), marks AS (  -- distinct dated aal2 steps and dated aal1 logins of each session
  SELECT DISTINCT id, method, at, 1 AS is_step FROM entries WHERE aal = 'aal2' AND at IS NOT NULL
  UNION ALL
  SELECT id, NULL, at, 0 FROM entries WHERE aal = 'aal1' AND at IS NOT NULL
), classified AS (  -- the latest login at or before each step, by a window over the session's marks
  SELECT at, is_step,
         max(CASE WHEN is_step = 0 THEN at END) OVER (PARTITION BY id ORDER BY at, is_step
                                                       ROWS UNBOUNDED PRECEDING) AS login
  FROM marks
)
SELECT (date_trunc('day', at))::date AS day, count(*) AS steps,
       count(*) FILTER (WHERE login IS NOT NULL AND at - login <= interval '300 seconds') AS at_login,
       count(*) FILTER (WHERE login IS NOT NULL AND at - login > interval '300 seconds') AS later,
       count(*) FILTER (WHERE login IS NULL) AS unknown
FROM classified
WHERE is_step = 1 AND at <= :as_of AND at >= date_trunc('day', :as_of::timestamp) - interval '29 days'
GROUP BY 1 ORDER BY 1;

WITH entries AS (
  SELECT s.id, lower(e.v ->> 'aal') AS aal,
         (e.v ->> 'completed_at') ~ '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$' AS dated,
         e.v ->> 'completed_at' AS completed_at, e.v ->> 'method' AS method
  FROM sessions s
  CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(s.authentication_methods) = 'array'
                                          THEN s.authentication_methods ELSE '[]'::jsonb END) AS e(v)
  WHERE jsonb_typeof(e.v) = 'object' AND lower(e.v ->> 'aal') = 'aal2'
)
SELECT (SELECT count(*) FROM sessions WHERE aal = 'aal2') AS aal2_sessions,
       (SELECT count(*) FROM sessions WHERE jsonb_typeof(authentication_methods) <> 'array') AS malformed_amr,
       (SELECT count(*) FROM entries WHERE NOT dated) AS undated_aal2_entries,
       (SELECT count(DISTINCT (id, method, completed_at)) FROM entries
        WHERE dated AND (completed_at::timestamptz AT TIME ZONE 'UTC') > :as_of) AS steps_after_as_of,
       (SELECT count(*) FROM sessions s WHERE s.aal = 'aal2'
          AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.id = s.id AND e.dated)) AS stepup_without_completed_at;

-- 3. audit: totals per seed event, silence check, earliest event, daily counts (90 enrollment days,
-- 30 step-up/failure days), spike windows, failing identities, rows without identity.
SELECT event_type, count(*) FROM ciam_security_audit_log
WHERE event_type IN ('mfa.totp_enrolled', 'mfa.webauthn_enrolled', 'auth.aal2_stepup_completed', 'mfa.challenge_failed')
  AND created_at <= :as_of::timestamp AT TIME ZONE 'UTC'
GROUP BY 1;

SELECT count(*) AS last_24h FROM ciam_security_audit_log
WHERE created_at > (:as_of::timestamp - interval '24 hours') AT TIME ZONE 'UTC' AND created_at <= :as_of::timestamp AT TIME ZONE 'UTC';

SELECT min(created_at) FROM ciam_security_audit_log;

SELECT event_type, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) FROM ciam_security_audit_log
WHERE event_type IN ('mfa.totp_enrolled', 'mfa.webauthn_enrolled', 'auth.aal2_stepup_completed', 'mfa.challenge_failed')
  AND created_at >= (date_trunc('day', :as_of::timestamp) - interval '89 days') AT TIME ZONE 'UTC'
  AND created_at <= :as_of::timestamp AT TIME ZONE 'UTC'
GROUP BY 1, 2;

SELECT floor(extract(epoch FROM (:as_of::timestamp AT TIME ZONE 'UTC') - created_at) / 86400) AS window_back,
       count(*) FROM ciam_security_audit_log
WHERE event_type = 'mfa.challenge_failed'
  AND created_at > (:as_of::timestamp - interval '15 days') AT TIME ZONE 'UTC'
  AND created_at <= :as_of::timestamp AT TIME ZONE 'UTC'
GROUP BY 1;

SELECT lower(identity_id) AS identity_id, count(*) AS failures, min(created_at), max(created_at),
       count(DISTINCT metadata ->> 'ip') AS distinct_ips
FROM ciam_security_audit_log
WHERE event_type = 'mfa.challenge_failed'
  AND created_at > (:as_of::timestamp - interval '7 days') AT TIME ZONE 'UTC'
  AND created_at <= :as_of::timestamp AT TIME ZONE 'UTC'
  AND identity_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
GROUP BY 1 HAVING count(*) >= 3 ORDER BY 2 DESC, 1;

SELECT count(*) AS rows_without_identity FROM ciam_security_audit_log
WHERE event_type = 'mfa.challenge_failed'
  AND created_at > (:as_of::timestamp - interval '7 days') AT TIME ZONE 'UTC'
  AND created_at <= :as_of::timestamp AT TIME ZONE 'UTC'
  AND (identity_id IS NULL OR identity_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
