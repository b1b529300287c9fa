-- payment_orders holds the payment side of every order paid through
-- MercadoPago: its checkouts, the payment that paid it, refunds and
-- chargebacks. Reconciliation reads it to find orders whose payment news may
-- have been missed.
CREATE TABLE IF NOT EXISTS {{payment_orders}} (
    order_id            uuid        PRIMARY KEY,
    business_id         uuid        NOT NULL,
    customer_id         uuid        NOT NULL,
    status              text        NOT NULL,
    currency            text        NOT NULL,
    total               bigint      NOT NULL,
    paid_by             text,
    paid_amount         bigint      NOT NULL,
    refunded            bigint      NOT NULL,
    charged_back        boolean     NOT NULL,
    cancel_refund       boolean     NOT NULL,
    checkout_attempts   integer     NOT NULL,
    preference_id       text,
    checkout_started_at timestamptz,
    position            bigint      NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {{payment_orders}}_unpaid_idx ON {{payment_orders}} (checkout_started_at)
    WHERE paid_by IS NULL AND status <> 'cancelled';
CREATE INDEX IF NOT EXISTS {{payment_orders}}_cancelled_idx ON {{payment_orders}} (order_id)
    WHERE paid_by IS NOT NULL AND status = 'cancelled';

-- payments holds each MercadoPago payment as last recorded. first_position
-- (the log position of its first record) orders lists and pages them.
CREATE TABLE IF NOT EXISTS {{payments}} (
    payment_id        text        PRIMARY KEY,
    order_id          uuid        NOT NULL,
    business_id       uuid        NOT NULL,
    customer_id       uuid        NOT NULL,
    status            text        NOT NULL,
    status_detail     text        NOT NULL,
    currency          text        NOT NULL,
    amount            bigint      NOT NULL,
    refunded          bigint      NOT NULL,
    paid_order        boolean     NOT NULL,
    review            text,
    expected_amount   bigint,
    expected_currency text,
    first_position    bigint      NOT NULL,
    position          bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {{payments}}_first_position_idx ON {{payments}} (first_position);
CREATE INDEX IF NOT EXISTS {{payments}}_order_idx ON {{payments}} (order_id, first_position);
CREATE INDEX IF NOT EXISTS {{payments}}_business_idx ON {{payments}} (business_id, first_position);
CREATE INDEX IF NOT EXISTS {{payments}}_customer_idx ON {{payments}} (customer_id, first_position);
CREATE INDEX IF NOT EXISTS {{payments}}_review_idx ON {{payments}} (first_position)
    WHERE review IS NOT NULL;

-- payment_history holds every status a payment was recorded in, in log order.
CREATE TABLE IF NOT EXISTS {{payment_history}} (
    payment_id    text        NOT NULL,
    position      bigint      NOT NULL,
    status        text        NOT NULL,
    status_detail text        NOT NULL,
    amount        bigint      NOT NULL,
    currency      text        NOT NULL,
    refunded      bigint      NOT NULL,
    recorded_at   timestamptz NOT NULL,
    PRIMARY KEY (payment_id, position)
);
