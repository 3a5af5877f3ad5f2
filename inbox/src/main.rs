//! Entry point of the inbox's wasm: mounts [`App`] into the page's body.

use messenger_inbox::App;

fn main() {
    leptos::mount::mount_to_body(App);
}
