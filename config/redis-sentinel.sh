#!/bin/sh
# Starts a Sentinel of the ha profile (docker-compose.yml: redis-sentinel-1..3)
# as the image's redis user:
#   redis-sentinel.sh <this Sentinel's hostname>
#
# Sentinel must be able to rewrite its configuration, so it runs on
# /data/sentinel.conf in its own volume: copied from config/sentinel.conf on
# the first start and kept after that (it holds which node is the primary).
# The Sentinels' password is written again at every start from its secret
# file, so a changed password takes effect on restart and it never appears on
# a command line or in the environment; the file is 0600 (the image's umask).
set -eu

name=$1
conf=/data/sentinel.conf
password=$(cat /run/secrets/redis_sentinel_password)

[ -e "$conf" ] || cp /usr/local/etc/redis/sentinel.conf "$conf"

# Drop what the previous start wrote (Sentinel may have rewritten it since).
sed -i -E '/^sentinel (announce-ip|auth-user|auth-pass|sentinel-user|sentinel-pass) /d' "$conf"

cat >>"$conf" <<EOF
sentinel announce-ip $name
sentinel auth-user utskick utskick-sentinel
sentinel auth-pass utskick $password
sentinel sentinel-user utskick-sentinel
sentinel sentinel-pass $password
EOF

exec redis-server "$conf" --sentinel
