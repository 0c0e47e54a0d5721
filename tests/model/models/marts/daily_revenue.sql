WITH o AS (
  SELECT CAST(ts AS DATE) AS day, amount FROM analytics.orders_clean
)
SELECT day, sum(amount) AS revenue
FROM o
GROUP BY day
