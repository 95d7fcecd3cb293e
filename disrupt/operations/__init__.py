"""Running the service: worker heartbeats, health, metrics, the console's warning banner,
backups and the administrator's checks (`disrupt doctor`)."""
