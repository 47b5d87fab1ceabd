//! The store's on-disk names that the core owns, spelled once. A name carries its format
//! version: a change of format gets a new name, so an older envstore never misreads it.
//! The Python side re-exports these through the binding (envstore.store.layout).

/// Content-addressed blobs: `blobs-v1/<2 hex>/<62 hex>[.x]`.
pub const BLOBS_DIR: &str = "blobs-v1";
/// Manifests: `manifests-v1/<id>.json`.
pub const MANIFESTS_DIR: &str = "manifests-v1";
/// Private staging directories; everything under it is a leftover once its writer is gone.
pub const TMP_DIR: &str = "tmp";
