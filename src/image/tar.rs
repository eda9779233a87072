//! Layer tars. Reading goes through the `tar` crate (ustar, GNU long
//! names and base-256 numbers, PAX `path`/`linkpath`/`size`/`uid`/`gid`
//! and `SCHILY.xattr.*`); it only parses: every entry is applied by
//! `unpack.rs`, fd-relative. Writing (for `layer diff`) is ours: ustar
//! plus PAX records for long names, large sizes and ids, and xattrs.

use std::io::{self, Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    HardLink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: u64,
    pub link: String,
    pub major: u32,
    pub minor: u32,
    /// Extended attributes (PAX `SCHILY.xattr.NAME`), in archive order.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

const XATTR_KEY: &str = "SCHILY.xattr.";

fn utf8(what: &str, b: &[u8]) -> io::Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| {
        bad(format!(
            "tar entry {what} {:?} is not UTF-8",
            String::from_utf8_lossy(b)
        ))
    })
}

/// Our view of one archive entry; None for entries that describe no file
/// (a PAX global header).
fn convert<R: Read>(ent: &mut tar::Entry<R>) -> io::Result<Option<Entry>> {
    use tar::EntryType as T;
    let path = utf8("path", &ent.path_bytes())?;
    let ctx = |e: io::Error| bad(format!("tar entry {path:?}: {e}"));
    let kind = match ent.header().entry_type() {
        T::Regular | T::Continuous | T::GNUSparse => Kind::File,
        T::Link => Kind::HardLink,
        T::Symlink => Kind::Symlink,
        T::Char => Kind::Char,
        T::Block => Kind::Block,
        T::Directory => Kind::Dir,
        T::Fifo => Kind::Fifo,
        T::XGlobalHeader => return Ok(None),
        t => {
            return Err(bad(format!(
                "tar entry {path:?}: unsupported type {:?}",
                t.as_byte() as char
            )))
        }
    };
    let mut xattrs = Vec::new();
    if let Some(exts) = ent.pax_extensions().map_err(ctx)? {
        for ext in exts {
            let ext = ext.map_err(ctx)?;
            let key = ext
                .key()
                .map_err(|_| bad(format!("tar entry {path:?}: PAX key is not UTF-8")))?;
            if let Some(name) = key.strip_prefix(XATTR_KEY) {
                xattrs.push((name.to_string(), ext.value_bytes().to_vec()));
            } else if matches!(key, "size" | "uid" | "gid") {
                // The crate ignores a PAX number it cannot parse and keeps
                // the header's: a size read two ways is how archives are made
                // to look different to different readers.
                let v = ext.value().unwrap_or("");
                if v.parse::<u64>().is_err() {
                    return Err(bad(format!(
                        "tar entry {path:?}: PAX {key}={v:?} is not a number"
                    )));
                }
            }
        }
    }
    let h = ent.header();
    let id = |v: io::Result<u64>, what: &str| -> io::Result<u32> {
        let v = v.map_err(ctx)?;
        u32::try_from(v).map_err(|_| bad(format!("tar entry {path:?}: {what} {v} out of range")))
    };
    let (major, minor) = if matches!(kind, Kind::Char | Kind::Block) {
        let dev = |v: io::Result<Option<u32>>| {
            v.map_err(ctx)?
                .ok_or_else(|| bad(format!("tar entry {path:?}: device without a ustar header")))
        };
        (dev(h.device_major())?, dev(h.device_minor())?)
    } else {
        (0, 0)
    };
    let link = match ent.link_name_bytes() {
        Some(l) => utf8("link target", &l)?,
        None => String::new(),
    };
    Ok(Some(Entry {
        kind,
        mode: h.mode().map_err(ctx)? & 0o7777,
        uid: id(h.uid(), "uid")?,
        gid: id(h.gid(), "gid")?,
        size: if kind == Kind::File { ent.size() } else { 0 },
        mtime: 0,
        link,
        major,
        minor,
        xattrs,
        path,
    }))
}

/// Calls `f` with each entry of the tar on `input` and a reader of its data.
pub fn read_all<R: Read>(
    input: R,
    mut f: impl FnMut(&Entry, &mut dyn Read) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    use crate::error::Ctx;
    let mut ar = tar::Archive::new(input);
    for ent in ar.entries().ctx(|| "read the layer tar")? {
        let mut ent = ent.ctx(|| "read the layer tar")?;
        if let Some(e) = convert(&mut ent).ctx(|| "read the layer tar")? {
            f(&e, &mut ent)?;
        }
    }
    Ok(())
}

pub struct Writer<W: Write> {
    inner: W,
}

fn put_octal(field: &mut [u8], v: u64) {
    let s = format!("{:0width$o}", v, width = field.len() - 1);
    let b = s.as_bytes();
    let n = field.len() - 1;
    let start = b.len().saturating_sub(n);
    field[..n].copy_from_slice(&b[start..]);
}

/// One PAX record, `LEN KEY=VALUE\n`, LEN counting itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body;
    while body + len.to_string().len() != len {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Largest value of an 8-byte (ids) and a 12-byte (size) octal field.
const MAX_ID: u64 = 0o7777777;
const MAX_SIZE: u64 = 0o77777777777;

impl<W: Write> Writer<W> {
    pub fn new(inner: W) -> Self {
        Writer { inner }
    }

    fn header(&mut self, e: &Entry, name: &str, link: &str, typ: u8, size: u64) -> io::Result<()> {
        let mut h = [0u8; 512];
        let n = name.as_bytes();
        h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
        put_octal(&mut h[100..108], e.mode as u64);
        // An id too large for the field is in the PAX record; 0 here.
        put_octal(
            &mut h[108..116],
            Some(e.uid as u64).filter(|&v| v <= MAX_ID).unwrap_or(0),
        );
        put_octal(
            &mut h[116..124],
            Some(e.gid as u64).filter(|&v| v <= MAX_ID).unwrap_or(0),
        );
        put_octal(&mut h[124..136], size);
        put_octal(&mut h[136..148], e.mtime.min(MAX_SIZE));
        h[156] = typ;
        let l = link.as_bytes();
        h[157..157 + l.len().min(100)].copy_from_slice(&l[..l.len().min(100)]);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        put_octal(&mut h[329..337], e.major as u64);
        put_octal(&mut h[337..345], e.minor as u64);
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        put_octal(&mut h[148..155], sum);
        h[155] = b' ';
        self.inner.write_all(&h)
    }

    /// Writes `e` and, for files, `data` (exactly e.size bytes).
    pub fn append(&mut self, e: &Entry, data: Option<&mut dyn Read>) -> io::Result<()> {
        let mut pax = Vec::new();
        if e.path.len() > 100 {
            pax_record(&mut pax, "path", e.path.as_bytes());
        }
        if e.link.len() > 100 {
            pax_record(&mut pax, "linkpath", e.link.as_bytes());
        }
        if e.size > MAX_SIZE {
            pax_record(&mut pax, "size", e.size.to_string().as_bytes());
        }
        if e.uid as u64 > MAX_ID {
            pax_record(&mut pax, "uid", e.uid.to_string().as_bytes());
        }
        if e.gid as u64 > MAX_ID {
            pax_record(&mut pax, "gid", e.gid.to_string().as_bytes());
        }
        for (k, v) in &e.xattrs {
            pax_record(&mut pax, &format!("{XATTR_KEY}{k}"), v);
        }
        if !pax.is_empty() {
            self.header(e, "PaxHeader", "", b'x', pax.len() as u64)?;
            self.inner.write_all(&pax)?;
            self.pad(pax.len() as u64)?;
        }
        let typ = match e.kind {
            Kind::File => b'0',
            Kind::HardLink => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
        };
        self.header(e, &e.path, &e.link, typ, e.size.min(MAX_SIZE))?;
        if let Some(r) = data {
            let n = io::copy(&mut r.take(e.size), &mut self.inner)?;
            if n != e.size {
                return Err(bad(format!(
                    "{}: file changed size while being archived",
                    e.path
                )));
            }
            self.pad(e.size)?;
        }
        Ok(())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let pad = ((512 - size % 512) % 512) as usize;
        self.inner.write_all(&[0u8; 512][..pad])
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&[0u8; 1024])?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for n in [0, 1, 5, 6, 7, 90, 95, 96, 97, 990, 996] {
            let mut out = Vec::new();
            let v = vec![b'x'; n];
            pax_record(&mut out, "k", &v);
            let sp = out.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value of {n} bytes");
        }
    }

    fn file(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            link: String::new(),
            major: 0,
            minor: 0,
            xattrs: vec![],
        }
    }

    /// A header whose size field is not octal is an error, never size 0:
    /// read as 0, the file's data (here a tar header of its own) would be
    /// taken for the next entry.
    #[test]
    fn malformed_size_is_an_error() {
        let mut inner = Writer::new(Vec::new());
        inner
            .append(&file("smuggled", 1), Some(&mut &b"x"[..]))
            .unwrap();
        let inner = inner.inner; // no end-of-archive blocks
        let mut w = Writer::new(Vec::new());
        w.append(&file("f", inner.len() as u64), Some(&mut &inner[..]))
            .unwrap();
        let mut t = w.finish().unwrap();
        t[124..136].copy_from_slice(b"0000000z000\0");
        let sum: u64 = t[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        put_octal(&mut t[148..155], sum);
        let mut seen = Vec::new();
        let r = read_all(&t[..], |e, _| {
            seen.push(e.path.clone());
            Ok(())
        });
        let msg = format!("{:#}", r.expect_err("a bad size was accepted"));
        assert!(msg.contains("size"), "{msg}");
        assert!(seen.is_empty(), "entries read: {seen:?}");
    }

    /// A PAX size that is not a number: an error (the crate would keep the header's).
    #[test]
    fn malformed_pax_size_is_an_error() {
        let mut t = Vec::new();
        let mut w = Writer::new(&mut t);
        let mut pax = Vec::new();
        pax_record(&mut pax, "size", b"12x");
        let e = file("f", 0);
        w.header(&e, "PaxHeader", "", b'x', pax.len() as u64)
            .unwrap();
        w.inner.write_all(&pax).unwrap();
        w.pad(pax.len() as u64).unwrap();
        w.append(&e, Some(&mut &b""[..])).unwrap();
        w.finish().unwrap();
        let r = read_all(&t[..], |_, _| Ok(()));
        let msg = format!("{:#}", r.expect_err("a bad PAX size was accepted"));
        assert!(msg.contains("PAX size=\"12x\" is not a number"), "{msg}");
    }

    /// Ids beyond the octal field and xattrs survive our writer and the reader.
    #[test]
    fn big_ids_and_xattrs_round_trip() {
        let e = Entry {
            path: "bin/ping".into(),
            kind: Kind::File,
            mode: 0o4755,
            uid: 123_456_789,
            gid: 987_654_321,
            size: 2,
            mtime: 0,
            link: String::new(),
            major: 0,
            minor: 0,
            xattrs: vec![(
                "security.capability".into(),
                vec![1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0],
            )],
        };
        let mut w = Writer::new(Vec::new());
        w.append(&e, Some(&mut &b"hi"[..])).unwrap();
        let t = w.finish().unwrap();
        let mut seen = Vec::new();
        read_all(&t[..], |got, data| {
            let mut s = String::new();
            data.read_to_string(&mut s).unwrap();
            seen.push((got.clone(), s));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 1);
        let (got, data) = &seen[0];
        assert_eq!((got.uid, got.gid, got.mode), (e.uid, e.gid, e.mode));
        assert_eq!(got.xattrs, e.xattrs);
        assert_eq!(data, "hi");
    }
}
