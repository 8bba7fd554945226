"""What auth keeps secret or slow on purpose: password hashing, signing keys and the tokens
they sign, login throttling, and service credentials."""
