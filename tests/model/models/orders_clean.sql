-- Orders with a positive amount, one row per order line.
SELECT id, customer_id, amount, ts
FROM staging.orders
WHERE amount > 0
