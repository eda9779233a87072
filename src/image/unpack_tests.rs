//! Hostile layer tars against the applier (run as root, as strata is):
//! each case checks the specific refusal and that a canary outside the
//! target survives.

use super::super::tar::{Entry, Kind, Writer};
use super::unpack;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn entry(path: &str, kind: Kind) -> Entry {
    Entry {
        path: path.into(),
        kind,
        mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        link: String::new(),
        major: 0,
        minor: 0,
        xattrs: vec![],
    }
}

fn file(path: &str, data: &'static [u8]) -> (Entry, &'static [u8]) {
    let mut e = entry(path, Kind::File);
    e.size = data.len() as u64;
    (e, data)
}

fn link(path: &str, kind: Kind, to: &str) -> (Entry, &'static [u8]) {
    let mut e = entry(path, kind);
    e.link = to.into();
    (e, b"")
}

fn tar(entries: &[(Entry, &[u8])]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    for (e, data) in entries {
        let mut d: &[u8] = data;
        let r: Option<&mut dyn std::io::Read> = (e.kind == Kind::File).then_some(&mut d);
        w.append(e, r).unwrap();
    }
    w.finish().unwrap()
}

/// `<tmp>/strata-unpack-<pid>-<name>/{canary,target/}`.
struct Scratch {
    base: PathBuf,
    target: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let base =
            std::env::temp_dir().join(format!("strata-unpack-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let target = base.join("target");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(base.join("canary"), "canary\n").unwrap();
        Scratch { base, target }
    }

    fn canary_intact(&self) {
        let c = std::fs::read_to_string(self.base.join("canary")).expect("the canary is gone");
        assert_eq!(c, "canary\n", "the canary beside the target changed");
    }

    /// Unpacks and returns the error text, which must contain `want`.
    fn refused(&self, entries: &[(Entry, &[u8])], want: &str) {
        let r = unpack(&tar(entries)[..], &self.target);
        let msg = format!("{:#}", r.expect_err("the hostile tar was accepted"));
        assert!(msg.contains(want), "wrong refusal: {msg}");
        self.canary_intact();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

const BAD_WHITEOUT: &str = "whiteout of an empty name";

#[test]
fn whiteout_of_dotdot_is_refused() {
    let s = Scratch::new("wh-dotdot");
    s.refused(&[(entry(".wh...", Kind::File), b"")], BAD_WHITEOUT);
}

#[test]
fn whiteout_of_dot_and_empty_are_refused() {
    let s = Scratch::new("wh-dot");
    std::fs::write(s.target.join("keep"), "k").unwrap();
    for name in [".wh..", ".wh.", "./.wh..", "sub/.wh."] {
        s.refused(&[(entry(name, Kind::File), b"")], BAD_WHITEOUT);
    }
    assert!(
        s.target.join("keep").exists(),
        "a file in the target was removed"
    );
    assert!(
        !s.target.join("sub").exists(),
        "a refused entry made its parent"
    );
}

#[test]
fn nested_whiteout_of_dotdot_is_refused() {
    let s = Scratch::new("wh-nested");
    let ok = [(entry("a/", Kind::Dir), &b""[..]), file("keep", b"k")];
    unpack(&tar(&ok)[..], &s.target).unwrap();
    s.refused(&[(entry("a/.wh...", Kind::File), b"")], BAD_WHITEOUT);
    assert!(
        s.target.join("keep").exists(),
        "a/.wh... emptied the target"
    );
}

#[test]
fn hard_link_out_of_the_layer_is_refused() {
    let s = Scratch::new("hardlink");
    let abs = s.base.join("canary").display().to_string();
    for to in ["../canary", abs.as_str(), "a/../../canary"] {
        s.refused(
            &[link("h", Kind::HardLink, to)],
            "hard link target outside the directory",
        );
    }
    assert_eq!(std::fs::metadata(s.base.join("canary")).unwrap().nlink(), 1);
}

#[test]
fn entry_under_a_symlink_parent_is_refused() {
    let s = Scratch::new("symparent");
    let abs = s.base.display().to_string();
    for to in ["..", abs.as_str()] {
        let _ = std::fs::remove_file(s.target.join("l"));
        s.refused(
            &[link("l", Kind::Symlink, to), file("l/canary", b"pwned\n")],
            "a parent directory is a symlink",
        );
    }
}

#[test]
fn write_through_an_absolute_symlink_replaces_the_link() {
    let s = Scratch::new("abs-symlink");
    let canary = s.base.join("canary").display().to_string();
    let t = [
        link("s", Kind::Symlink, &canary),
        file("s", b"pwned\n"),
        link("h", Kind::Symlink, &canary),
        link("h2", Kind::HardLink, "h"),
    ];
    unpack(&tar(&t)[..], &s.target).unwrap();
    s.canary_intact();
    let m = std::fs::symlink_metadata(s.target.join("s")).unwrap();
    assert!(m.is_file(), "s is not the tar's regular file");
    assert_eq!(std::fs::read(s.target.join("s")).unwrap(), b"pwned\n");
    // The hard link is to the symlink itself, not to what it points at.
    let h2 = std::fs::symlink_metadata(s.target.join("h2")).unwrap();
    assert!(h2.file_type().is_symlink());
}

/// A file capability (cap_net_raw, as on an image's ping), v2 format.
fn cap_net_raw() -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

#[test]
fn owners_modes_and_xattrs_are_kept() {
    let s = Scratch::new("meta");
    let (mut ping, data) = file("bin/ping", b"\x7fELF");
    ping.uid = 123_456_789;
    ping.gid = 42;
    ping.mode = 0o4755;
    ping.xattrs = vec![
        ("security.capability".into(), cap_net_raw()),
        ("user.note".into(), b"kept".to_vec()),
    ];
    let mut dir = entry("bin/", Kind::Dir);
    dir.mode = 0o711;
    dir.uid = 7;
    let mut fifo = entry("run/fifo", Kind::Fifo);
    fifo.gid = 3_000_000;
    let mut sym = link("bin/sh", Kind::Symlink, "busybox").0;
    sym.uid = 9;
    unpack(
        &tar(&[(dir, b""), (ping, data), (fifo, b""), (sym, b"")])[..],
        &s.target,
    )
    .unwrap();
    let m = std::fs::metadata(s.target.join("bin/ping")).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (123_456_789, 42, 0o4755)
    );
    let f = std::fs::File::open(s.target.join("bin/ping")).unwrap();
    use std::os::fd::AsFd;
    assert_eq!(
        crate::sys::xattr::get_fd_inode(f.as_fd(), "security.capability").unwrap(),
        cap_net_raw()
    );
    assert_eq!(
        crate::sys::xattr::get_fd_inode(f.as_fd(), "user.note").unwrap(),
        b"kept"
    );
    let d = std::fs::metadata(s.target.join("bin")).unwrap();
    assert_eq!((d.uid(), d.mode() & 0o7777), (7, 0o711));
    let p = std::fs::metadata(s.target.join("run/fifo")).unwrap();
    assert_eq!((p.gid(), p.mode() & 0o7777), (3_000_000, 0o644));
    assert_eq!(
        std::fs::symlink_metadata(s.target.join("bin/sh"))
            .unwrap()
            .uid(),
        9
    );
}

#[test]
fn overlay_xattrs_are_refused() {
    let s = Scratch::new("ovl-xattr");
    let mut d = entry("d/", Kind::Dir);
    d.xattrs = vec![("trusted.overlay.redirect".into(), b"/etc".to_vec())];
    s.refused(&[(d, b"")], "overlayfs' own xattr");
}

#[test]
fn whiteouts_and_opaque_dirs_in_overlay_form() {
    let s = Scratch::new("whiteouts");
    std::fs::create_dir_all(s.target.join("d/sub")).unwrap();
    std::fs::write(s.target.join("gone"), "x").unwrap();
    let t = [
        (entry(".wh.gone", Kind::File), &b""[..]),
        (entry(".wh.d", Kind::File), b""),
        (entry("o/.wh..wh..opq", Kind::File), b""),
        (entry(".wh..wh.plnk", Kind::Dir), b""),
    ];
    unpack(&tar(&t)[..], &s.target).unwrap();
    for n in ["gone", "d"] {
        let m = std::fs::symlink_metadata(s.target.join(n)).unwrap();
        assert_eq!(
            (m.mode() & libc::S_IFMT, m.rdev()),
            (libc::S_IFCHR, 0),
            "{n}"
        );
    }
    let o = std::fs::File::open(s.target.join("o")).unwrap();
    use std::os::fd::AsFd;
    assert_eq!(
        crate::sys::xattr::get(o.as_fd(), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!Path::new(&s.target.join(".wh..wh.plnk")).exists());
}
