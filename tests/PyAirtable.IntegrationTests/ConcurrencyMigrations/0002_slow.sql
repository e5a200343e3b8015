-- Widens the window in which a second host could start the same migrations.
SELECT pg_sleep(0.5);
INSERT INTO concurrency.counter VALUES (2);
