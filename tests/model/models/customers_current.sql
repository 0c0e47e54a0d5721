SELECT id, name, email, updated_at FROM staging.customers;
