-- model customers_current: merge on id
-- first run
CREATE OR REPLACE TABLE `analytics`.`customers_current` AS
SELECT id, name, email, updated_at FROM staging.customers;
-- later runs: the rows from the new batches, merged on the key
-- with staging.customers read as (SELECT * FROM staging.customers WHERE _landfall_batch IN ({new_batches}))
-- {update_set}: c = source.c for every non-key column c of the query
MERGE INTO `analytics`.`customers_current` AS target
USING (
SELECT * FROM (
SELECT id, name, email, updated_at FROM staging.customers
) AS model_rows
WHERE TRUE
QUALIFY row_number() OVER (PARTITION BY `id` ORDER BY `updated_at` DESC) = 1
) AS source
ON target.`id` = source.`id`
WHEN MATCHED THEN UPDATE SET {update_set}
WHEN NOT MATCHED THEN INSERT ROW;

-- model events_recent: incremental by watermark on ts
-- first run
CREATE OR REPLACE TABLE `analytics`.`events_recent` AS
SELECT event_id, kind, ts FROM staging.events;
-- later runs ({watermark}: MAX(ts) of the target after the last successful run)
-- rows of the last 2 hours are read again and merged on event_id
-- {update_set}: c = source.c for every non-key column c of the query
MERGE INTO `analytics`.`events_recent` AS target
USING (
SELECT * FROM (
SELECT event_id, kind, ts FROM staging.events
) AS model_rows
WHERE `ts` > TIMESTAMP_SUB({watermark}, INTERVAL 2 HOUR)
) AS source
ON target.`event_id` = source.`event_id`
WHEN MATCHED THEN UPDATE SET {update_set}
WHEN NOT MATCHED THEN INSERT ROW;

-- model orders_clean: incremental by batch, driven by staging.orders
-- first run
CREATE OR REPLACE TABLE `analytics`.`orders_clean` AS
-- Orders with a positive amount, one row per order line.
SELECT id, customer_id, amount, ts
FROM staging.orders
WHERE amount > 0;
-- later runs: the rows from the new batches
-- with staging.orders read as (SELECT * FROM staging.orders WHERE _landfall_batch IN ({new_batches}))
INSERT INTO `analytics`.`orders_clean`
SELECT * FROM (
-- Orders with a positive amount, one row per order line.
SELECT id, customer_id, amount, ts
FROM staging.orders
WHERE amount > 0
) AS model_rows;

-- model daily_revenue: full_refresh
CREATE OR REPLACE TABLE `analytics`.`daily_revenue` AS
WITH o AS (
  SELECT CAST(ts AS DATE) AS day, amount FROM analytics.orders_clean
)
SELECT day, sum(amount) AS revenue
FROM o
GROUP BY day;

-- model orders_view: view
CREATE OR REPLACE VIEW `analytics`.`orders_view` AS
SELECT * FROM staging.orders;

-- model revenue_by_customer: merge on id
-- first run
CREATE OR REPLACE TABLE `analytics`.`revenue_by_customer` AS
SELECT c.id, c.name, sum(o.amount) AS revenue
FROM analytics.orders_clean AS o
JOIN analytics.customers_current AS c ON c.id = o.customer_id
GROUP BY c.id, c.name;
-- later runs: the query's rows, merged on the key
MERGE INTO `analytics`.`revenue_by_customer` AS target
USING (
SELECT * FROM (
SELECT c.id, c.name, sum(o.amount) AS revenue
FROM analytics.orders_clean AS o
JOIN analytics.customers_current AS c ON c.id = o.customer_id
GROUP BY c.id, c.name
) AS model_rows
) AS source
ON target.`id` = source.`id`
WHEN MATCHED THEN UPDATE SET `revenue` = source.`revenue`
WHEN NOT MATCHED THEN INSERT ROW;

-- model revenue_fast: dynamic_table
-- bigquery has no dynamic tables

-- model revenue_live: dynamic_table
-- bigquery has no dynamic tables

-- model revenue_mv: materialized_view
CREATE OR REPLACE MATERIALIZED VIEW `analytics`.`revenue_mv` AS
SELECT day, revenue FROM analytics.daily_revenue WHERE revenue > 0;
