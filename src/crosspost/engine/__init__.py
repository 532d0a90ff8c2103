"""The publishing state machine: posts, targets, the ledger and the publish job."""
