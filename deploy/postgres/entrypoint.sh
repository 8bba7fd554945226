#!/bin/bash
# The first start initialises $PGDATA as the official postgres image does: superuser
# $POSTGRES_USER (default postgres) with the password from $POSTGRES_PASSWORD_FILE or
# $POSTGRES_PASSWORD (required), a database $POSTGRES_DB (default: the user's name), and
# password logins (scram-sha-256) from other hosts. Later starts use what is there.
set -euo pipefail

if [[ ${1:-} == postgres && ! -s $PGDATA/PG_VERSION ]]; then
    user=${POSTGRES_USER:-postgres}
    database=${POSTGRES_DB:-$user}
    if [[ -n ${POSTGRES_PASSWORD_FILE:-} ]]; then
        password=$(<"$POSTGRES_PASSWORD_FILE")
    else
        password=${POSTGRES_PASSWORD:-}
    fi
    if [[ -z $password ]]; then
        echo "docker-entrypoint: set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD" >&2
        exit 1
    fi
    initdb --username="$user" --pwfile=<(printf '%s\n' "$password") \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [[ $database != postgres ]]; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        createdb --username="$user" "$database"
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "docker-entrypoint: initialised $PGDATA (user $user, database $database)"
fi

exec "$@"
