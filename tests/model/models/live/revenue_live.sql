SELECT day, revenue FROM analytics.daily_revenue
