#!/bin/sh
# Starts a data node of the ha profile (docker-compose.yml: redis-primary,
# redis-replica) as the image's redis user:
#   redis-ha-node.sh <this node's hostname> [<the primary to replicate on first start>]
#
# Writes /data/redis-node.conf from config/redis.conf, config/redis-ha-node.conf
# and this node's lines, then runs redis-server on it. The password for
# replication is read from its secret file here, so it never appears on a
# command line or in the environment; the file is 0600 (the image's umask).
#
# Sentinel records a role change in that file (CONFIG REWRITE, a "replicaof"
# line or none): a restart keeps the role Sentinel gave the node last, and only
# the very first start takes the role from the arguments.
set -eu

name=$1
first_primary=${2:-}
conf=/data/redis-node.conf
password=$(cat /run/secrets/redis_replication_password)

if [ -e "$conf" ]; then
  role=$(grep '^replicaof ' "$conf" || true)
elif [ -n "$first_primary" ]; then
  role="replicaof $first_primary 6379"
else
  role=
fi

{
  cat /usr/local/etc/redis/redis.conf /usr/local/etc/redis/redis-ha-node.conf
  echo
  echo "# Written by redis-ha-node.sh at start; Sentinel may rewrite what follows."
  echo "replica-announce-ip $name"
  echo "masterauth $password"
  echo "$role"
} >"$conf.new"
mv "$conf.new" "$conf"

exec redis-server "$conf"
