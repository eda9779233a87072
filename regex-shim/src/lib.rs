//! oci-spec (runtime feature) uses `regex` for a single pattern, the
//! execCPUAffinity check `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`, and that linked
//! regex's full engine and Unicode tables (~1 MB, a quarter of strata's
//! binary, whose limit is 3 MB). regex-lite (same authors) has the same
//! API for what oci-spec calls, in ~10% of the size. Its `\d` is ASCII-only,
//! which is what a CPU list is anyway.
pub use regex_lite::*;
