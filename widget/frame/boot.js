// Starts the panel's wasm. Trunk's own starter is an inline <script>, which
// the frame's Content-Security-Policy forbids; this file does the same job
// from the frame's origin. Trunk.toml's `pattern_script` writes the hashed
// file names into the tag that loads it.
const tag = document.querySelector('script[data-mw-boot]');
const { default: init } = await import(tag.dataset.js);
await init({ module_or_path: tag.dataset.wasm });
