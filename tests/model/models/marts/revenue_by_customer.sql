SELECT c.id, c.name, sum(o.amount) AS revenue
FROM analytics.orders_clean AS o
JOIN analytics.customers_current AS c ON c.id = o.customer_id
GROUP BY c.id, c.name
