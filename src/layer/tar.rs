//! Just enough of the tar format for OCI layers: ustar headers, PAX
//! `path`/`linkpath`/`size` records and GNU long names on read; ustar plus
//! PAX for long names on write.

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
}

fn octal(field: &[u8]) -> u64 {
    // GNU base-256 for large values: high bit set on the first byte.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return field[1..].iter().fold(0u64, |a, &b| (a << 8) | b as u64);
    }
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(s.trim(), 8).unwrap_or(0)
}

fn cstr(field: &[u8]) -> String {
    String::from_utf8_lossy(&field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())])
        .into_owned()
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

pub struct Reader<R: Read> {
    inner: R,
    /// Bytes of the current entry's data not yet read (plus padding).
    pending: u64,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader { inner, pending: 0 }
    }

    fn skip_pending(&mut self) -> io::Result<()> {
        let n = self.pending;
        self.pending = 0;
        io::copy(&mut (&mut self.inner).take(n), &mut io::sink()).map(drop)
    }

    fn read_block(&mut self) -> io::Result<Option<[u8; 512]>> {
        let mut b = [0u8; 512];
        let mut got = 0;
        while got < 512 {
            let n = self.inner.read(&mut b[got..])?;
            if n == 0 {
                return if got == 0 {
                    Ok(None)
                } else {
                    Err(bad("truncated tar header"))
                };
            }
            got += n;
        }
        Ok(Some(b))
    }

    fn read_data(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > 1 << 20 {
            return Err(bad("tar metadata entry larger than 1 MiB"));
        }
        let mut v = vec![0u8; size as usize];
        self.inner.read_exact(&mut v)?;
        let pad = (512 - size % 512) % 512;
        io::copy(&mut (&mut self.inner).take(pad), &mut io::sink())?;
        Ok(v)
    }

    /// The next entry; its data must then be read with `data` (or is skipped).
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        self.skip_pending()?;
        let (mut long_path, mut long_link, mut pax_size) = (None, None, None);
        loop {
            let Some(h) = self.read_block()? else {
                return Ok(None);
            };
            if h.iter().all(|&b| b == 0) {
                return Ok(None);
            }
            let sum: u64 = h
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
            if sum != octal(&h[148..156]) {
                return Err(bad("tar header checksum mismatch"));
            }
            let size = octal(&h[124..136]);
            match h[156] {
                b'x' | b'g' => {
                    let data = self.read_data(size)?;
                    if h[156] == b'x' {
                        for (k, v) in parse_pax(&data) {
                            match k.as_str() {
                                "path" => long_path = Some(v),
                                "linkpath" => long_link = Some(v),
                                "size" => pax_size = v.parse().ok(),
                                _ => {}
                            }
                        }
                    }
                    continue;
                }
                b'L' => {
                    long_path = Some(cstr(&self.read_data(size)?));
                    continue;
                }
                b'K' => {
                    long_link = Some(cstr(&self.read_data(size)?));
                    continue;
                }
                _ => {}
            }
            let kind = match h[156] {
                b'0' | 0 | b'7' => Kind::File,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                b'3' => Kind::Char,
                b'4' => Kind::Block,
                b'5' => Kind::Dir,
                b'6' => Kind::Fifo,
                t => return Err(bad(format!("unsupported tar entry type {:?}", t as char))),
            };
            let mut path = cstr(&h[0..100]);
            let prefix = cstr(&h[345..500]);
            if &h[257..262] == b"ustar" && !prefix.is_empty() {
                path = format!("{prefix}/{path}");
            }
            let size = pax_size.unwrap_or(size);
            let e = Entry {
                path: long_path.take().unwrap_or(path),
                kind,
                mode: octal(&h[100..108]) as u32 & 0o7777,
                uid: octal(&h[108..116]) as u32,
                gid: octal(&h[116..124]) as u32,
                size: if kind == Kind::File { size } else { 0 },
                mtime: octal(&h[136..148]),
                link: long_link.take().unwrap_or_else(|| cstr(&h[157..257])),
                major: octal(&h[329..337]) as u32,
                minor: octal(&h[337..345]) as u32,
            };
            self.pending = if kind == Kind::File {
                size + (512 - size % 512) % 512
            } else {
                0
            };
            return Ok(Some(e));
        }
    }

    /// Copies the current entry's data into `w`.
    pub fn data(&mut self, size: u64, w: &mut impl Write) -> io::Result<()> {
        let n = io::copy(&mut (&mut self.inner).take(size), w)?;
        if n != size {
            return Err(bad("truncated tar entry"));
        }
        self.pending -= size;
        self.skip_pending()
    }
}

fn parse_pax(data: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(sp) = rest.iter().position(|&b| b == b' ') {
        let Ok(len) = std::str::from_utf8(&rest[..sp])
            .unwrap_or("")
            .parse::<usize>()
        else {
            break;
        };
        if len == 0 || len > rest.len() {
            break;
        }
        let rec = String::from_utf8_lossy(&rest[sp + 1..len])
            .trim_end_matches('\n')
            .to_string();
        if let Some((k, v)) = rec.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
        rest = &rest[len..];
    }
    out
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

impl<W: Write> Writer<W> {
    pub fn new(inner: W) -> Self {
        Writer { inner }
    }

    fn header(&mut self, e: &Entry, name: &str, link: &str, typ: u8, size: u64) -> io::Result<()> {
        let mut h = [0u8; 512];
        let n = name.as_bytes();
        h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
        put_octal(&mut h[100..108], e.mode as u64);
        put_octal(&mut h[108..116], e.uid as u64);
        put_octal(&mut h[116..124], e.gid as u64);
        put_octal(&mut h[124..136], size);
        put_octal(&mut h[136..148], e.mtime);
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
        const MAX_SIZE: u64 = 0o77777777777;
        if e.path.len() > 100 || e.link.len() > 100 || e.size > MAX_SIZE {
            let mut pax = String::new();
            let size = e.size.to_string();
            for (k, v, long) in [
                ("path", &e.path, e.path.len() > 100),
                ("linkpath", &e.link, e.link.len() > 100),
                ("size", &size, e.size > MAX_SIZE),
            ] {
                if long {
                    let body = format!(" {k}={v}\n");
                    let mut len = body.len() + 1;
                    while format!("{len}{body}").len() != len {
                        len += 1;
                    }
                    pax.push_str(&format!("{len}{body}"));
                }
            }
            self.header(e, "PaxHeader", "", b'x', pax.len() as u64)?;
            self.inner.write_all(pax.as_bytes())?;
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
