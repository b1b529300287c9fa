CREATE TABLE IF NOT EXISTS {{businesses}} (
    id                  uuid        PRIMARY KEY,
    owner_id            uuid        NOT NULL,
    name                text        NOT NULL,
    currency            text        NOT NULL,
    delivery_fee        bigint      NOT NULL,
    open                boolean     NOT NULL,
    timezone            text        NOT NULL,
    hours               jsonb       NOT NULL,
    version             bigint      NOT NULL,
    position            bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {{businesses}}_owner_idx ON {{businesses}} (owner_id);
CREATE INDEX IF NOT EXISTS {{businesses}}_name_idx ON {{businesses}} (created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS {{products}} (
    id                  uuid        PRIMARY KEY,
    business_id         uuid        NOT NULL,
    name                text        NOT NULL,
    description         text        NOT NULL,
    category            text        NOT NULL,
    price               bigint      NOT NULL,
    currency            text        NOT NULL,
    available           boolean     NOT NULL,
    archived            boolean     NOT NULL,
    image_path          text,
    image_content_type  text,
    version             bigint      NOT NULL,
    position            bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {{products}}_business_idx ON {{products}} (business_id, created_at, id);
