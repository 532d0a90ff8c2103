"""Music releases and their distribution (seed 003): releases, DDEX ERN messages, SFTP
delivery, channels."""
