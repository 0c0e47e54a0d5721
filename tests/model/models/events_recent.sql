SELECT event_id, kind, ts FROM staging.events
