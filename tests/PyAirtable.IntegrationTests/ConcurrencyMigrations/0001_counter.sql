-- Deliberately not idempotent: running it twice fails (the table exists) or doubles the row.
CREATE TABLE concurrency.counter (n integer NOT NULL);
INSERT INTO concurrency.counter VALUES (1);
