#!/bin/sh
# Prints fresh NATS passwords, one per user, as an env file (never commit it):
#   nats/auth/new-passwords.sh > .env.nats && chmod 600 .env.nats
#   docker compose --env-file .env.nats -f compose.yaml -f compose.auth.yaml up
# Each starts with letters: nats-server parses a password it reads from the environment as config,
# and a value like 12345, true or 1k would not be read as a string.
set -eu
for name in ORDER PAYMENT SHIPPING NOTIFICATION LOYALTY ADMIN; do
  printf '%s_NATS_PASSWORD=pw-%s\n' "$name" "$(openssl rand -hex 24)"
done
