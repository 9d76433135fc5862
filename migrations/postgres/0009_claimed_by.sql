-- Which worker holds a delivery's claim, so a worker that restarts under
-- the same name hands its earlier claims back at once instead of waiting
-- out their leases.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
