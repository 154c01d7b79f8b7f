#!/bin/bash
# Runs once, on an empty data volume (the image's /docker-entrypoint-initdb.d): one user and one
# database per service, and `dapr` for the Dapr state store. Passwords come from the
# postgres-passwords Secret; psql variables quote them, so no character can break the SQL.
set -euo pipefail
for name in auth products orders dapr; do
  password_var="${name^^}_PASSWORD"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password="${!password_var}" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
SQL
done
