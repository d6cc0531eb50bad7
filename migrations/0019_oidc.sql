-- OpenID Connect sign-ins in the database, so that the browser may come back to any replica.

-- A flow the browser began (it holds the id in a cookie; the row is keyed by its SHA-256):
-- what berth's callback checks the provider's answer against. The PKCE verifier is sealed
-- with secret_key.
CREATE TABLE oidc_flows (
    id_hash         TEXT PRIMARY KEY,
    state           TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    sealed_verifier TEXT NOT NULL,
    expires_ms      BIGINT NOT NULL
);

-- A finished sign-in waiting for its page (a cookie again, keyed by its SHA-256): the account
-- it signed in, or why it did not. The page's token is made when the page takes it, so no
-- token is ever stored.
CREATE TABLE oidc_handoffs (
    id_hash       TEXT PRIMARY KEY,
    user_id       TEXT,
    error_code    TEXT,
    error_message TEXT,
    expires_ms    BIGINT NOT NULL
);
