-- The seed page's five SQL queries, verbatim except that `identities` (which in Kratos has no
-- credential_types column) is the denormalised table `seed_identities` built by bench/generate.py;
-- `security_audit` is the view over ciam_security_audit_log.
\set ON_ERROR_STOP 1
-- 1. MFA enrollment rate
SELECT
COUNT(*) FILTER (WHERE 'totp' = ANY(credential_types) OR 'webauthn' = ANY(credential_types)) AS enrolled,
COUNT(*) AS total,
(COUNT(*) FILTER (WHERE 'totp' = ANY(credential_types) OR 'webauthn' = ANY(credential_types)) * 100.0 / NULLIF(COUNT(*), 0)) AS percent
FROM seed_identities;
-- 2. Step-up frequency
SELECT DATE(created_at), COUNT(*)
FROM security_audit
WHERE event_type = 'auth.aal2_stepup_completed'
GROUP BY 1 ORDER BY 1 DESC LIMIT 30;
-- 3. TOTP vs WebAuthn split
SELECT
COUNT(*) FILTER (WHERE 'webauthn' = ANY(credential_types)) AS webauthn_users,
COUNT(*) FILTER (WHERE 'totp' = ANY(credential_types)) AS totp_users,
COUNT(*) FILTER (WHERE 'webauthn' = ANY(credential_types) AND 'totp' = ANY(credential_types)) AS both
FROM seed_identities;
-- 4. MFA challenge failures
SELECT identity_id, COUNT(*)
FROM security_audit
WHERE event_type = 'mfa.challenge_failed'
AND created_at > NOW() - INTERVAL '7 days'
GROUP BY 1 HAVING COUNT(*) >= 3;
-- 5. Per-domain breakdown
SELECT
CASE WHEN i.schema_id = 'admin' THEN 'iam' ELSE 'ciam' END AS domain,
COUNT(*) FILTER (WHERE 'totp' = ANY(credential_types) OR 'webauthn' = ANY(credential_types)) AS enrolled,
COUNT(*) AS total
FROM seed_identities i
GROUP BY 1;
