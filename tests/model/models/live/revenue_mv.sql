SELECT day, revenue FROM analytics.daily_revenue WHERE revenue > 0
