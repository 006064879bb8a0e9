"""Backup and restore helpers: client binaries and gpg (tools), the manifest and table fingerprints
(manifest), folders and S3 prefixes holding backups (storage). The commands are in
dbtool.commands.backup and dbtool.commands.restore; docs/backup.md explains the design."""
