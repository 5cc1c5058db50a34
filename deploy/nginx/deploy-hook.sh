#!/bin/sh
# certbot deploy hook for live behind nginx (CERTBOT_DEPLOY_HOOK=/opt/live/deploy/nginx/deploy-hook.sh).
# certbot runs it after each successful issuance or renewal with RENEWED_LINEAGE set: the new
# certificate and key are copied where nginx reads them (deploy/nginx/live.conf), atomically, then
# nginx checks its configuration and reloads. Under the systemd unit live may not signal nginx
# (NoNewPrivileges): live-cert-reload.path reloads it when fullchain.pem changes, and this script
# only copies. Settings (environment): LIVE_NGINX_TLS_DIR (default /etc/nginx/live) and
# LIVE_NGINX_ARGS (extra arguments for nginx, e.g. "-c /etc/nginx/nginx.conf").
set -eu
: "${RENEWED_LINEAGE:?this is a certbot deploy hook: RENEWED_LINEAGE is not set}"
dir="${LIVE_NGINX_TLS_DIR:-/etc/nginx/live}"
umask 077
cp "$RENEWED_LINEAGE/privkey.pem" "$dir/privkey.pem.new"
cp "$RENEWED_LINEAGE/fullchain.pem" "$dir/fullchain.pem.new"
chmod 644 "$dir/fullchain.pem.new"
mv -f "$dir/privkey.pem.new" "$dir/privkey.pem"
mv -f "$dir/fullchain.pem.new" "$dir/fullchain.pem"
# shellcheck disable=SC2086 # LIVE_NGINX_ARGS is a list of arguments
if nginx ${LIVE_NGINX_ARGS:-} -t -q 2>/dev/null && nginx ${LIVE_NGINX_ARGS:-} -s reload 2>/dev/null; then
  echo "deploy-hook: $RENEWED_LINEAGE copied to $dir, nginx reloaded"
else
  echo "deploy-hook: $RENEWED_LINEAGE copied to $dir; nginx not reloaded from here (live-cert-reload.path does it under systemd)" >&2
fi
