-- Where an account signs in: `local` (its password_hash), `ldap` or `oidc` (password_hash is
-- empty, which no password matches). external_id is who the directory or provider says the
-- person is: the LDAP username, or the OpenID Connect `sub`.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external ON users (source, external_id);
