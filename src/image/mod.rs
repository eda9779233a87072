//! OCI image layers as tarballs: `layer diff` exports a container layer
//! (overlayfs upper dir) as an OCI layer tar, `layer unpack` applies one to
//! a directory in overlay form. Whiteouts: an overlay whiteout (char device
//! 0:0) is the tar entry `.wh.NAME`; an opaque directory
//! (`trusted.overlay.opaque=y`) is `DIR/.wh..wh..opq`.

pub mod diff;
pub mod tar;
pub mod unpack;

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
