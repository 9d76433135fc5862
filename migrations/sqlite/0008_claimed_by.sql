-- Which worker holds a delivery's claim, so a worker that restarts under
-- the same name hands its earlier claims back at once (PostgreSQL; SQLite
-- has one process, which releases every claim when it starts).
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
