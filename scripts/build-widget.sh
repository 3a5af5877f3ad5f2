#!/usr/bin/env bash
# Builds the widget (release, optimised for size) into dist/: the loader
# dist/widget.js and the panel app that the server serves under /frame/; and
# the agents' inbox into dist/inbox/, served under /inbox/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# The workspace's release profile is tuned for the server (opt-level 3); the
# widget ships to every visitor, so its wasm build optimises for size. The
# wasm32 target has its own output folder, so the two never overwrite.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
# DIST: where to build (default dist/), so that several checkouts or
# helpers can build side by side; the server's --assets points there.
DIST="${DIST:-dist}"
# --offline: Trunk must use the installed tools, never download its own.
trunk build --release --offline --dist "$DIST" "$@"

# The agents' inbox (inbox/, served at /inbox/): a separate app and bundle,
# built after the widget because each Trunk build replaces its own dist folder.
trunk build --release --offline --dist "$DIST/inbox" --public-url /inbox/ inbox/index.html

# The wasm-bindgen JS glue of the panel and of the inbox, minified with
# terser (scripts/minify, pinned): Trunk's own JavaScript minifier cannot
# parse the glue's `export ... as default` and leaves it as it is. The file
# names keep the hash Trunk gave them; no integrity attribute covers them.
if [ ! -x scripts/minify/node_modules/.bin/terser ]; then
  npm ci --prefix scripts/minify --no-audit --no-fund --loglevel=error
fi
for glue in "$DIST"/messenger-widget-*.js "$DIST"/inbox/messenger-inbox-*.js; do
  scripts/minify/node_modules/.bin/terser "$glue" --module --compress --mangle --output "$glue.min"
  mv "$glue.min" "$glue"
done

# The loader ships to every page of every host site, and its second half
# (widget-frame.js, fetched once a panel is needed) to every visitor who
# opens it: Trunk copies their readable sources; replace them with the
# minified builds.
for file in widget.js widget-frame.js; do
  env -u CARGO_PROFILE_RELEASE_OPT_LEVEL cargo run --quiet --locked -p messenger-tools --bin minify-loader -- \
    "widget/loader/$file" "$DIST/$file"
done

# The server sends FILE.br / FILE.gz when they exist (brotli 11, gzip -9),
# instead of compressing every response on the fly at a lower level.
node scripts/precompress.mjs "$DIST"
