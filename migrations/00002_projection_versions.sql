-- +goose Up

-- projection_versions records which version of each read model's tables
-- serves reads, and a rebuild in progress, so an interrupted rebuild resumes
-- when the engine starts again.
CREATE TABLE projection_versions (
    projection         text        NOT NULL PRIMARY KEY,
    active_version     integer     NOT NULL,
    schema_hash        text        NOT NULL,
    rebuild_version    integer,
    rebuild_started_at timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- projection_tables lists every physical read table. Read models are derived
-- data: backups may skip them, and an operator may empty them and reset
-- projection_offsets to have every projection rebuilt from the events.
CREATE TABLE projection_tables (
    projection text NOT NULL,
    table_name text NOT NULL,
    PRIMARY KEY (projection, table_name)
);

-- +goose Down
DROP TABLE projection_tables;
DROP TABLE projection_versions;
