//! `state`: the OCI state JSON of one container.

use super::Global;
use crate::container::{self, Status};
use crate::error::Result;
use crate::state::{self, State};
use serde_json::{json, Value};

/// The runtime-spec state document (plus runc's rootfs/created/owner).
pub fn document(st: &State, status: Status) -> Value {
    let pid = if status == Status::Stopped { 0 } else { st.pid };
    let mut v = json!({
        "ociVersion": st.oci_version,
        "id": st.id,
        "pid": pid,
        "status": status.as_str(),
        "bundle": st.bundle,
        "rootfs": st.rootfs,
        "created": st.created,
        "owner": st.owner,
    });
    if !st.annotations.is_empty() {
        v["annotations"] = json!(st.annotations);
    }
    v
}

pub fn run(g: &Global, id: &str) -> Result<i32> {
    let st = state::load(&g.root, id)?;
    let status = container::status(&st, &g.root.join(id));
    let doc = document(&st, status);
    super::emit_json(&doc, "the state")
}
