-- Registration tokens (SPEC §4.1 check 10, kezd/src/store/tokens.rs): invitations the
-- operator creates when registration.policy is "token". Only the token's SHA-256 (hex) is
-- kept, so a copy of the database invites nobody; id is the short public name the operator
-- lists and revokes by. uses counts the registrations the token admitted, in the same
-- transaction that stored each one; uses_allowed and expires_at (Unix ms) are NULL for no
-- limit. Version 6 on both stores.
CREATE TABLE registration_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    hash         TEXT    NOT NULL UNIQUE,
    uses_allowed BIGINT CHECK (uses_allowed >= 1),
    uses         BIGINT  NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at   BIGINT,
    created_at   BIGINT  NOT NULL,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE
);
