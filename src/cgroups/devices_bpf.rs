//! cgroup v2 has no devices controller: device rules become an eBPF
//! program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's
//! cgroup. The rules keep v1's meaning: checked in order, the last rule
//! that matches decides, nothing matching means deny.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxDeviceCgroup;

/// One device rule: type ('a', 'b', 'c'), major/minor (None = any),
/// access bits (1 mknod, 2 read, 4 write), allow or deny.
pub struct Rule {
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
    pub allow: bool,
}

pub fn access_bits(s: &str) -> u32 {
    s.chars()
        .map(|c| match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

impl Rule {
    pub fn from_spec(d: &LinuxDeviceCgroup) -> Rule {
        Rule {
            typ: d
                .typ()
                .map(|t| t.as_str().chars().next().unwrap_or('a'))
                .unwrap_or('a'),
            major: d.major().and_then(|m| u32::try_from(m).ok()),
            minor: d.minor().and_then(|m| u32::try_from(m).ok()),
            access: d.access().as_deref().map(access_bits).unwrap_or(7),
            allow: d.allow(),
        }
    }

    /// "c 1:3 rwm" as in the v1 allow-list.
    pub fn parse(s: &str, allow: bool) -> Option<Rule> {
        let mut it = s.split_whitespace();
        let typ = it.next()?.chars().next()?;
        let (ma, mi) = it.next()?.split_once(':')?;
        let num = |x: &str| if x == "*" { None } else { x.parse().ok() };
        Some(Rule {
            typ,
            major: num(ma),
            minor: num(mi),
            access: access_bits(it.next()?),
            allow,
        })
    }
}

/// The rules as the v1 devices cgroup would end up holding them: an "a"
/// rule resets to allow- or deny-everything; any other rule adds an
/// exception to that default, or takes access bits away from the
/// exception with exactly its type and numbers. So a "deny c 1:5 rwm"
/// after the default allow-list removes 1:5 but leaves "c *:* m" (mknod
/// of anything), as on v1, where last-match-wins would deny the mknod.
pub fn emulate_v1(rules: Vec<Rule>) -> Vec<Rule> {
    // A new cgroup starts allowing everything (its parent's default).
    let mut default_allow = true;
    let mut ex: Vec<Rule> = Vec::new();
    for r in rules {
        if r.typ == 'a' {
            default_allow = r.allow;
            ex.clear();
            continue;
        }
        let same = |e: &Rule| e.typ == r.typ && e.major == r.major && e.minor == r.minor;
        if r.allow != default_allow {
            match ex.iter_mut().find(|e| same(e)) {
                Some(e) => e.access |= r.access,
                None => ex.push(Rule {
                    allow: !default_allow,
                    ..r
                }),
            }
        } else {
            for e in ex.iter_mut().filter(|e| same(e)) {
                e.access &= !r.access;
            }
            ex.retain(|e| e.access != 0);
        }
    }
    let mut out = vec![Rule {
        typ: 'a',
        major: None,
        minor: None,
        access: 7,
        allow: default_allow,
    }];
    out.extend(ex);
    out
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    (code as u64)
        | ((dst as u64 & 0xf) << 8)
        | ((src as u64 & 0xf) << 12)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND_K: u8 = 0x57;
const RSH_K: u8 = 0x77;
const MOV_X: u8 = 0xbf;
const MOV_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

/// The program: r2 = device type, r3 = requested access, r4 = major,
/// r5 = minor; rules are tested last to first, the first match returns.
pub fn program(rules: &[Rule]) -> Result<Vec<u64>> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut block = Vec::new();
        match r.typ {
            'a' => {}
            'b' | 'c' => block.push((JNE_K, 2, if r.typ == 'b' { 1 } else { 2 })),
            t => {
                return Err(Error::invalid(format!(
                    "linux.resources.devices: unknown type {t:?}"
                )))
            }
        }
        let mut tail = Vec::new();
        // As the v1 devices cgroup decides: an allow rule matches only if it
        // covers every requested bit; a deny rule matches if it shares any
        // (a deny of "w" refuses an "rw" open).
        let skip = if r.access & 7 == 7 {
            None
        } else if r.allow {
            tail.push(insn(MOV_X, 0, 3, 0, 0));
            tail.push(insn(AND_K, 0, 0, 0, (!r.access & 7) as i32));
            Some(JNE_K)
        } else {
            tail.push(insn(MOV_X, 0, 3, 0, 0));
            tail.push(insn(AND_K, 0, 0, 0, (r.access & 7) as i32));
            Some(JEQ_K)
        };
        let checks: Vec<(u8, u8, i32)> = block
            .into_iter()
            .chain(r.major.map(|m| (JNE_K, 4u8, m as i32)))
            .chain(r.minor.map(|m| (JNE_K, 5u8, m as i32)))
            .collect();
        // Layout: [tail (mov/and)] [jne|jeq r0,0] [checks...] mov r0,allow; exit
        let n_access_jump = usize::from(skip.is_some());
        let total = tail.len() + n_access_jump + checks.len() + 2;
        let mut out = tail;
        if let Some(jump) = skip {
            let pos = out.len();
            out.push(insn(jump, 0, 0, (total - pos - 1) as i16, 0));
        }
        for (code, reg, imm) in checks {
            let pos = out.len();
            out.push(insn(code, reg, 0, (total - pos - 1) as i16, imm));
        }
        out.push(insn(MOV_K, 0, 0, 0, i32::from(r.allow)));
        out.push(insn(EXIT, 0, 0, 0, 0));
        let unconditional = out.len() == 2;
        p.extend(out);
        // A rule matching everything ends the program: the verifier
        // rejects unreachable instructions after it.
        if unconditional {
            return Ok(p);
        }
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the generated program on (type, access, major, minor).
    fn eval(p: &[u64], t: u32, acc: u32, ma: u32, mi: u32) -> u64 {
        let mut r = [0u64; 6];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (code, dst, src, off, imm) = (
                i as u8,
                ((i >> 8) & 0xf) as usize,
                ((i >> 12) & 0xf) as usize,
                (i >> 16) as u16 as i16,
                (i >> 32) as u32 as i32,
            );
            pc += 1;
            match code {
                LDX_W => {
                    r[dst] = match off {
                        0 => ((acc << 16) | t) as u64,
                        4 => ma as u64,
                        _ => mi as u64,
                    }
                }
                AND_K => r[dst] &= imm as u32 as u64,
                RSH_K => r[dst] >>= imm,
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = imm as u64,
                JNE_K => {
                    if r[dst] != imm as u32 as u64 {
                        pc = (pc as i64 + off as i64) as usize
                    }
                }
                JEQ_K => {
                    if r[dst] == imm as u32 as u64 {
                        pc = (pc as i64 + off as i64) as usize
                    }
                }
                EXIT => return r[0],
                _ => panic!("bad opcode {code:#x}"),
            }
        }
    }

    #[test]
    fn v1_semantics_keep_mknod_wildcard() {
        let rules = vec![
            Rule::parse("a *:* rwm", false).unwrap(),
            Rule::parse("c *:* m", true).unwrap(),
            Rule::parse("c 1:5 rwm", true).unwrap(),
            Rule::parse("c 1:3 rwm", true).unwrap(),
            Rule::parse("c 1:5 rwm", false).unwrap(),
        ];
        let p = program(&emulate_v1(rules)).unwrap();
        assert_eq!(eval(&p, 2, 1, 1, 5), 1); // mknod zero: c *:* m stays
        assert_eq!(eval(&p, 2, 2, 1, 5), 0); // read zero: removed
        assert_eq!(eval(&p, 2, 6, 1, 3), 1); // read+write null
    }

    #[test]
    fn last_match_wins_default_deny() {
        let rules = vec![
            Rule::parse("a *:* rwm", false).unwrap(),
            Rule::parse("c 1:3 rwm", true).unwrap(),
            Rule::parse("c 1:5 r", true).unwrap(),
            Rule::parse("c 1:3 w", false).unwrap(),
        ];
        let p = program(&rules).unwrap();
        assert_eq!(eval(&p, 2, 2, 1, 3), 1); // read null
        assert_eq!(eval(&p, 2, 4, 1, 3), 0); // write null: last rule denies
        assert_eq!(eval(&p, 2, 2, 1, 5), 1); // read zero
        assert_eq!(eval(&p, 2, 4, 1, 5), 0); // write zero: not in access
        assert_eq!(eval(&p, 1, 2, 8, 0), 0); // block device
        assert_eq!(eval(&p, 2, 2, 1, 9), 0); // urandom: no rule
        assert_eq!(eval(&p, 2, 6, 1, 3), 0); // read+write null: the "w" deny shares a bit
    }

    #[test]
    fn partial_deny_refuses_any_overlap() {
        let rules = emulate_v1(vec![
            Rule::parse("a *:* rwm", true).unwrap(),
            Rule::parse("c 1:5 w", false).unwrap(),
        ]);
        let p = program(&rules).unwrap();
        assert_eq!(eval(&p, 2, 2, 1, 5), 1); // read zero
        assert_eq!(eval(&p, 2, 4, 1, 5), 0); // write zero
        assert_eq!(eval(&p, 2, 6, 1, 5), 0); // read+write zero, as v1 refuses it
        assert_eq!(eval(&p, 2, 6, 1, 3), 1); // another device
    }
}
#[cfg(test)]
mod load_tests {
    #[test]
    fn loads_in_kernel() {
        let mut rules = vec![
            super::Rule::parse("a *:* rwm", false).unwrap(),
            super::Rule::parse("c 1:5 rwm", false).unwrap(),
        ];
        rules.extend(
            crate::cgroups::resources::DEFAULT_ALLOW
                .iter()
                .filter_map(|s| super::Rule::parse(s, true)),
        );
        let p = super::program(&rules).unwrap();
        let r = crate::sys::bpf::load(crate::sys::bpf::PROG_TYPE_CGROUP_DEVICE, &p);
        assert!(r.is_ok(), "{:?}", r.err());
    }
}
