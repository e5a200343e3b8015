-- What the test event consumer received, written with the consumer's record of handled events.
ALTER TABLE testing.received_events
    ADD COLUMN aggregate text    NOT NULL DEFAULT '',
    ADD COLUMN attempt   integer NOT NULL DEFAULT 1;
