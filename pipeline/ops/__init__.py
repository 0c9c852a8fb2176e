"""Running it at home: lock, schedule, notifications, health, backup, Metabase provisioning."""
