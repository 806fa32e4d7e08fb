"""Running the service: settings, database, secrets, migrations, the gunicorn server, rate limit, audit log."""
