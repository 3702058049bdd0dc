"""Security audit logs (SPEC 2.2): the documented `security_audit` table and the SDK's per-domain
`<domain>_security_audit_log` tables. The `identifier` column holds e-mail addresses: never read."""
