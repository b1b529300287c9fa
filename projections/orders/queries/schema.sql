CREATE TABLE IF NOT EXISTS {{orders}} (
    id              uuid        PRIMARY KEY,
    business_id     uuid        NOT NULL,
    customer_id     uuid        NOT NULL,
    status          text        NOT NULL,
    fulfillment     text        NOT NULL,
    payment_method  text        NOT NULL,
    paid            boolean     NOT NULL,
    payment_status  text,
    address         jsonb,
    lines           jsonb       NOT NULL,
    note            text        NOT NULL,
    discount        jsonb,
    currency        text        NOT NULL,
    subtotal        bigint      NOT NULL,
    delivery_fee    bigint      NOT NULL,
    discount_amount bigint      NOT NULL,
    total           bigint      NOT NULL,
    refunded        bigint      NOT NULL,
    placed_day      date        NOT NULL,
    version         bigint      NOT NULL,
    position        bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {{orders}}_business_idx ON {{orders}} (business_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS {{orders}}_customer_idx ON {{orders}} (customer_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS {{orders}}_created_idx ON {{orders}} (created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS {{order_messages}} (
    message_id  uuid        PRIMARY KEY,
    order_id    uuid        NOT NULL,
    author_id   uuid        NOT NULL,
    author_role text        NOT NULL,
    text        text        NOT NULL,
    metadata    jsonb       NOT NULL,
    position    bigint      NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {{order_messages}}_order_idx ON {{order_messages}} (order_id, position);

CREATE TABLE IF NOT EXISTS {{daily_sales}} (
    business_id   uuid   NOT NULL,
    day           date   NOT NULL,
    currency      text   NOT NULL,
    orders        bigint NOT NULL,
    completed     bigint NOT NULL,
    cancellations bigint NOT NULL,
    revenue       bigint NOT NULL,
    PRIMARY KEY (business_id, day)
);
