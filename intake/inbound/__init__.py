"""Mail coming in: the LMTP receiver, the IMAP poller and the file importer."""
