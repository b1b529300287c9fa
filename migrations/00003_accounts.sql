-- +goose Up

-- accounts are the people who sign in: customers, business owners, the staff
-- of one business, admins and auditors. email is stored normalised (trimmed,
-- lower case); the unique index on lower(email) makes the rule hold even for
-- rows written by hand.
CREATE TABLE accounts (
    id            uuid        NOT NULL,
    email         text        NOT NULL,
    name          text        NOT NULL,
    role          text        NOT NULL,
    business_id   uuid,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_role_check
        CHECK (role IN ('customer', 'business_owner', 'staff', 'admin', 'auditor')),
    -- Staff act for exactly one business; nobody else belongs to one.
    CONSTRAINT accounts_staff_business_check CHECK ((role = 'staff') = (business_id IS NOT NULL))
);

CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
CREATE INDEX accounts_business_idx ON accounts (business_id) WHERE business_id IS NOT NULL;

-- refresh_tokens holds the sha256 of every opaque refresh token ever issued,
-- never the token itself. Each sign-in starts a family; each refresh marks the
-- presented token used and adds its replacement to the same family. family_id
-- is the id of the family's first token: locking that row serialises every
-- change to the family.
CREATE TABLE refresh_tokens (
    id          uuid        NOT NULL,
    family_id   uuid        NOT NULL,
    account_id  uuid        NOT NULL,
    token_hash  bytea       NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL,
    replaced_by uuid,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_family_fkey FOREIGN KEY (family_id) REFERENCES refresh_tokens (id),
    CONSTRAINT refresh_tokens_account_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CONSTRAINT refresh_tokens_replaced_by_fkey FOREIGN KEY (replaced_by)
        REFERENCES refresh_tokens (id),
    CONSTRAINT refresh_tokens_hash_length_check CHECK (length(token_hash) = 32)
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account_idx ON refresh_tokens (account_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE accounts;
