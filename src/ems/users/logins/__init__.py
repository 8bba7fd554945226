"""The logins auth holds, as the users service reaches them: creating one for an admin,
and reading all of them to catch up at start (auth's loopback `/internal/credentials`)."""
