//! D-Bus messages on the wire, little-endian, for the few types systemd's
//! manager calls need: y b u t s o g, arrays, structs and variants. A
//! message is a method call, a reply, an error or a signal.

use std::fmt;

/// One marshalled value; an array keeps its element signature so that an
/// empty one still has a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Byte(u8),
    Bool(bool),
    U32(u32),
    U64(u64),
    Str(String),
    Path(String),
    Sig(String),
    Array(String, Vec<Arg>),
    Struct(Vec<Arg>),
    Variant(Box<Arg>),
}

impl Arg {
    pub fn sig(&self) -> String {
        match self {
            Arg::Byte(_) => "y".into(),
            Arg::Bool(_) => "b".into(),
            Arg::U32(_) => "u".into(),
            Arg::U64(_) => "t".into(),
            Arg::Str(_) => "s".into(),
            Arg::Path(_) => "o".into(),
            Arg::Sig(_) => "g".into(),
            Arg::Array(e, _) => format!("a{e}"),
            Arg::Struct(f) => format!("({})", f.iter().map(Arg::sig).collect::<String>()),
            Arg::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Arg::Str(s) | Arg::Path(s) | Arg::Sig(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Arg::U32(n) => Some(*n),
            _ => None,
        }
    }
}

/// A malformed message or signature.
#[derive(Debug, PartialEq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad D-Bus message: {}", self.0)
    }
}

fn bad<T>(what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(what.into()))
}

/// The alignment of the type whose signature starts with `c`.
fn align_of(c: u8) -> usize {
    match c {
        b'y' | b'g' | b'v' => 1,
        b't' | b'(' | b'{' => 8,
        _ => 4,
    }
}

fn pad(buf: &mut Vec<u8>, a: usize) {
    while !buf.len().is_multiple_of(a) {
        buf.push(0);
    }
}

/// Appends `v` to `buf`, whose offset 0 is 8-aligned in the message.
pub fn put(buf: &mut Vec<u8>, v: &Arg) {
    match v {
        Arg::Byte(b) => buf.push(*b),
        Arg::Bool(b) => put_u32(buf, u32::from(*b)),
        Arg::U32(n) => put_u32(buf, *n),
        Arg::U64(n) => {
            pad(buf, 8);
            buf.extend_from_slice(&n.to_le_bytes());
        }
        Arg::Str(s) | Arg::Path(s) => {
            put_u32(buf, s.len() as u32);
            buf.extend_from_slice(s.as_bytes());
            buf.push(0);
        }
        Arg::Sig(s) => {
            buf.push(s.len() as u8);
            buf.extend_from_slice(s.as_bytes());
            buf.push(0);
        }
        Arg::Array(e, items) => {
            put_u32(buf, 0);
            let at = buf.len() - 4;
            pad(buf, align_of(e.as_bytes().first().copied().unwrap_or(b'y')));
            let start = buf.len();
            items.iter().for_each(|i| put(buf, i));
            let n = (buf.len() - start) as u32;
            buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
        }
        Arg::Struct(f) => {
            pad(buf, 8);
            f.iter().for_each(|i| put(buf, i));
        }
        Arg::Variant(i) => {
            put(buf, &Arg::Sig(i.sig()));
            put(buf, i);
        }
    }
}

fn put_u32(buf: &mut Vec<u8>, n: u32) {
    pad(buf, 4);
    buf.extend_from_slice(&n.to_le_bytes());
}

/// The end of the single complete type at the start of `sig`.
fn one_type(sig: &[u8]) -> Result<usize, WireError> {
    match sig.first() {
        None => bad("signature ends early"),
        Some(b'a') => Ok(1 + one_type(&sig[1..])?),
        Some(&open @ (b'(' | b'{')) => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut i = 1;
            while sig.get(i) != Some(&close) {
                if i >= sig.len() {
                    return bad("unclosed struct in signature");
                }
                i += one_type(&sig[i..])?;
            }
            Ok(i + 1)
        }
        Some(b'y' | b'b' | b'u' | b't' | b's' | b'o' | b'g' | b'v' | b'i' | b'x') => Ok(1),
        Some(c) => bad(format!("type '{}' not supported", *c as char)),
    }
}

/// Reads values from a whole message (offsets are the message's).
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    fn align(&mut self, a: usize) -> Result<(), WireError> {
        self.pos = self.pos.div_ceil(a) * a;
        if self.pos > self.buf.len() {
            return bad("padding past the end");
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return bad("value past the end");
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self, len: usize) -> Result<String, WireError> {
        let b = self.take(len + 1)?;
        if b[len] != 0 {
            return bad("string without its NUL");
        }
        String::from_utf8(b[..len].to_vec()).or_else(|_| bad("string not UTF-8"))
    }

    /// Reads every value of signature `sig`.
    pub fn read_all(&mut self, sig: &str) -> Result<Vec<Arg>, WireError> {
        let mut s = sig.as_bytes();
        let mut out = vec![];
        while !s.is_empty() {
            let n = one_type(s)?;
            out.push(self.read(&s[..n])?);
            s = &s[n..];
        }
        Ok(out)
    }

    /// Reads one value of the single complete type `sig`.
    fn read(&mut self, sig: &[u8]) -> Result<Arg, WireError> {
        Ok(match sig[0] {
            b'y' => Arg::Byte(self.take(1)?[0]),
            b'b' => Arg::Bool(self.u32()? != 0),
            b'u' | b'i' => Arg::U32(self.u32()?),
            b't' | b'x' => {
                self.align(8)?;
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Arg::U64(u64::from_le_bytes(a))
            }
            b's' => {
                let n = self.u32()? as usize;
                Arg::Str(self.text(n)?)
            }
            b'o' => {
                let n = self.u32()? as usize;
                Arg::Path(self.text(n)?)
            }
            b'g' => {
                let n = self.take(1)?[0] as usize;
                Arg::Sig(self.text(n)?)
            }
            b'v' => {
                let n = self.take(1)?[0] as usize;
                let inner = self.text(n)?;
                if inner.is_empty() || one_type(inner.as_bytes())? != inner.len() {
                    return bad(format!("variant signature \"{inner}\""));
                }
                Arg::Variant(Box::new(self.read(inner.as_bytes())?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                let elem = &sig[1..];
                self.align(align_of(elem[0]))?;
                let end = self.pos + len;
                if end > self.buf.len() {
                    return bad("array past the end");
                }
                let mut items = vec![];
                while self.pos < end {
                    items.push(self.read(elem)?);
                }
                let e = String::from_utf8_lossy(elem).into_owned();
                Arg::Array(e, items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let inner =
                    std::str::from_utf8(&sig[1..sig.len() - 1]).or_else(|_| bad("signature"))?;
                Arg::Struct(self.read_all(inner)?)
            }
            c => return bad(format!("type '{}' not supported", c as char)),
        })
    }
}

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// A message's header fields that matter here, and its body.
#[derive(Debug, Default, PartialEq)]
pub struct Message {
    pub kind: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub body: Vec<Arg>,
}

/// A method call's bytes.
pub fn method_call(
    serial: u32,
    dest: &str,
    path: &str,
    iface: &str,
    member: &str,
    args: &[Arg],
) -> Vec<u8> {
    let mut body = vec![];
    args.iter().for_each(|a| put(&mut body, a));
    let sig: String = args.iter().map(Arg::sig).collect();
    let field = |code: u8, v: Arg| Arg::Struct(vec![Arg::Byte(code), Arg::Variant(Box::new(v))]);
    let mut fields = vec![
        field(1, Arg::Path(path.into())),
        field(2, Arg::Str(iface.into())),
        field(3, Arg::Str(member.into())),
        field(6, Arg::Str(dest.into())),
    ];
    if !sig.is_empty() {
        fields.push(field(8, Arg::Sig(sig)));
    }
    let mut m = vec![b'l', METHOD_CALL, 0, 1];
    m.extend_from_slice(&(body.len() as u32).to_le_bytes());
    m.extend_from_slice(&serial.to_le_bytes());
    put(&mut m, &Arg::Array("(yv)".into(), fields));
    pad(&mut m, 8);
    m.extend_from_slice(&body);
    m
}

/// The whole length of the message whose first 16 bytes are `head`.
pub fn total_len(head: &[u8; 16]) -> Result<usize, WireError> {
    if head[0] != b'l' {
        return bad("not little-endian");
    }
    let body = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    let fields = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
    if body > 1 << 27 || fields > 1 << 26 {
        return bad("message too large");
    }
    Ok((16 + fields).div_ceil(8) * 8 + body)
}

/// Parses one whole message.
pub fn parse(m: &[u8]) -> Result<Message, WireError> {
    if m.len() < 16 || m[0] != b'l' || m[3] != 1 {
        return bad("header");
    }
    let mut r = Reader::new(m, 8);
    let mut msg = Message {
        kind: m[1],
        serial: r.u32()?,
        ..Default::default()
    };
    let mut sig = String::new();
    let Arg::Array(_, fields) = r.read(b"a(yv)")? else {
        return bad("header fields");
    };
    for f in fields {
        let Arg::Struct(f) = f else { continue };
        let (Some(Arg::Byte(code)), Some(Arg::Variant(v))) = (f.first(), f.get(1)) else {
            continue;
        };
        let s = v.as_str().map(String::from);
        match code {
            1 => msg.path = s,
            2 => msg.interface = s,
            3 => msg.member = s,
            4 => msg.error_name = s,
            5 => msg.reply_serial = v.as_u32(),
            6 => msg.destination = s,
            8 => sig = s.unwrap_or_default(),
            _ => {}
        }
    }
    r.align(8)?;
    msg.body = r.read_all(&sig)?;
    if r.pos != m.len() {
        return bad("body longer than its signature");
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: Arg) -> Arg {
        Arg::Variant(Box::new(a))
    }

    #[test]
    fn signatures() {
        let p = Arg::Array(
            "(sv)".into(),
            vec![Arg::Struct(vec![
                Arg::Str("Delegate".into()),
                v(Arg::Bool(true)),
            ])],
        );
        assert_eq!(p.sig(), "a(sv)");
        assert_eq!(Arg::Array("(sa(sv))".into(), vec![]).sig(), "a(sa(sv))");
        assert_eq!(one_type(b"a(sa(sv))s"), Ok(9));
        assert!(one_type(b"(su").is_err());
        assert!(one_type(b"d").is_err());
    }

    #[test]
    fn layout_matches_the_spec() {
        let mut b = vec![];
        put(&mut b, &Arg::Byte(7));
        put(&mut b, &Arg::U64(1));
        assert_eq!(b, [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        let mut b = vec![];
        put(&mut b, &Arg::Str("ab".into()));
        assert_eq!(b, [2, 0, 0, 0, b'a', b'b', 0]);
        // An array of u64: the length excludes the padding before the first element.
        let mut b = vec![];
        put(&mut b, &Arg::Array("t".into(), vec![Arg::U64(5)]));
        assert_eq!(&b[..8], &[8, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(b.len(), 16);
        // An empty array of structs still pads to 8.
        let mut b = vec![];
        put(&mut b, &Arg::Array("(sv)".into(), vec![]));
        assert_eq!(b, [0; 8]);
        let mut b = vec![];
        put(&mut b, &v(Arg::U32(3)));
        assert_eq!(b, [1, b'u', 0, 0, 3, 0, 0, 0]);
    }

    #[test]
    fn round_trip() {
        let args = vec![
            Arg::Str("rt-x.scope".into()),
            Arg::Str("fail".into()),
            Arg::Array(
                "(sv)".into(),
                vec![
                    Arg::Struct(vec![
                        Arg::Str("PIDs".into()),
                        v(Arg::Array("u".into(), vec![Arg::U32(42)])),
                    ]),
                    Arg::Struct(vec![Arg::Str("MemoryMax".into()), v(Arg::U64(1 << 30))]),
                    Arg::Struct(vec![
                        Arg::Str("AllowedCPUs".into()),
                        v(Arg::Array("y".into(), vec![Arg::Byte(3)])),
                    ]),
                    Arg::Struct(vec![
                        Arg::Str("DeviceAllow".into()),
                        v(Arg::Array(
                            "(ss)".into(),
                            vec![Arg::Struct(vec![
                                Arg::Str("/dev/null".into()),
                                Arg::Str("rwm".into()),
                            ])],
                        )),
                    ]),
                ],
            ),
            Arg::Array("(sa(sv))".into(), vec![]),
        ];
        let m = method_call(
            9,
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            &args,
        );
        let mut head = [0u8; 16];
        head.copy_from_slice(&m[..16]);
        assert_eq!(total_len(&head), Ok(m.len()));
        let p = parse(&m).expect("parses");
        assert_eq!(p.kind, METHOD_CALL);
        assert_eq!(p.serial, 9);
        assert_eq!(p.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(p.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(p.destination.as_deref(), Some("org.freedesktop.systemd1"));
        assert_eq!(p.body, args);
    }

    #[test]
    fn truncated_and_bad_messages_fail() {
        let m = method_call(1, "d", "/p", "i.f", "M", &[Arg::Str("x".into())]);
        for n in [0, 15, 20, m.len() - 1] {
            assert!(parse(&m[..n]).is_err(), "len {n}");
        }
        let mut bad_nul = m.clone();
        let last = bad_nul.len() - 1;
        bad_nul[last] = b'x';
        assert!(parse(&bad_nul).is_err());
        let mut big = [0u8; 16];
        big[0] = b'l';
        big[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(total_len(&big).is_err());
    }
}
