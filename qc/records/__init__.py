"""What is kept: storage and migrations, tolerances and judgement, schedule, logged tests, audit, backups, users, exports."""
