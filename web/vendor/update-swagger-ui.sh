#!/usr/bin/env bash
# Copy the pinned swagger-ui-dist files from node_modules into web/vendor/swagger-ui/.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=node_modules/swagger-ui-dist
[ -d "$src" ] || { echo "run 'npm ci' first" >&2; exit 1; }
for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
  cp "$src/$f" web/vendor/swagger-ui/"$f"
done
node -p "require('./$src/package.json').version" > web/vendor/swagger-ui/VERSION
echo "web/vendor/swagger-ui now holds swagger-ui-dist $(cat web/vendor/swagger-ui/VERSION)"
