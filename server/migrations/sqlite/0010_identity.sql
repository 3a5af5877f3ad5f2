-- Verified customers: a site's signed-in users, vouched for by the site's
-- backend with a JWT signed with the site's secret. external_id is the
-- user's id on that site (the JWT's sub); NULL for anonymous customers.
-- name is the name the site vouched for, or the one the customer typed in.
-- Nothing is ever matched by email.
ALTER TABLE customers ADD COLUMN external_id TEXT;
ALTER TABLE customers ADD COLUMN name TEXT;

CREATE UNIQUE INDEX customers_by_external_id ON customers (site_id, external_id)
    WHERE external_id IS NOT NULL;
