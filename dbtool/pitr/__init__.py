"""Point-in-time recovery with pgBackRest (`dbtool pitr`): repository configuration and the
pgBackRest runner (repo.py), the recoverable window and RPO (window.py), restoring into a new
data folder and proving it reached its target (recovery.py). docs/backup.md explains the set-up."""
