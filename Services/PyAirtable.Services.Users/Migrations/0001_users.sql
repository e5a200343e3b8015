-- User profiles. seq orders ListUsers (keyset pagination); version is the etag and the cache version.
CREATE TABLE users.users (
    id           uuid PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    email        text NOT NULL UNIQUE,
    display_name text NOT NULL,
    avatar_url   text NOT NULL DEFAULT '',
    time_zone    text NOT NULL DEFAULT '',
    status       smallint NOT NULL DEFAULT 1,
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
