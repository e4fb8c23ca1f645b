#!/usr/bin/env bash
# The README's first command: mint a token for a demo account and verify it, on the default
# database (~/.local/share/sa/sa.db, or $SA_DB). Safe to run again: it brings the account back
# (enabling or undeleting it if an earlier session changed it) and revokes its older tokens.
set -euo pipefail
SA="${SA:-$(dirname "$0")/../target/release/sa}"

"$SA" enable demo-bot >/dev/null 2>&1 ||
    "$SA" undelete demo-bot >/dev/null 2>&1 ||
    "$SA" create --name demo-bot --role viewer --description "made by scripts/demo.sh"
"$SA" token revoke --account demo-bot --all --yes 2>/dev/null
TOKEN=$("$SA" token add demo-bot --name demo --expires 1h)
printf '%s\n' "$TOKEN" | "$SA" token verify --permission dashboards:read --source demo --json
"$SA" token list demo-bot --usage
