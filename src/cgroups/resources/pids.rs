//! pids: the one JSON quirk the typed parse cannot express.

/// oci-spec reads an absent `pids.limit` as 0, which runtime-spec 1.3
/// makes a real limit. So `"pids": {}` (or a null limit) is removed from
/// the JSON before the typed parse: unset means "leave pids alone".
pub fn drop_unset_pids(resources: &mut serde_json::Value) {
    let unset = resources
        .get("pids")
        .is_some_and(|p| p.get("limit").is_none_or(|l| l.is_null()));
    if let Some(obj) = resources.as_object_mut().filter(|_| unset) {
        obj.remove("pids");
    }
}
