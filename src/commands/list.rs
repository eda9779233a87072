//! `list [--format table|json] [-q]`.

use super::Global;
use crate::container;
use crate::container::Status;
use crate::error::{Error, Result};
use crate::state::{self, State, Summary};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Below this many containers one thread reads them all: a second thread
/// costs more than it saves.
const PARALLEL_FROM: usize = 128;

/// `read` of every id, in `ids` order. Every entry is a file read and a
/// /proc check that do not depend on each other, so a large listing is
/// split between two threads (the work is syscall-bound). An entry `read`
/// finds nothing for (a container being deleted right now) drops out.
fn read_all<T: Send>(ids: &[String], read: impl Fn(&str) -> Option<T> + Sync) -> Vec<T> {
    let read = |ids: &[String]| -> Vec<T> { ids.iter().filter_map(|id| read(id)).collect() };
    if ids.len() < PARALLEL_FROM {
        return read(ids);
    }
    let (first, second) = ids.split_at(ids.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| read(second));
        let mut rows = read(first);
        match other.join() {
            Ok(more) => rows.extend(more),
            // The thread only reads; a panic there is a bug to surface.
            Err(p) => std::panic::resume_unwind(p),
        }
        rows
    })
}

/// Each container's full state and live status (`--format json`).
fn states(dir: BorrowedFd, root: &Path, ids: &[String]) -> Vec<(State, Status)> {
    read_all(ids, |id| {
        let st = state::load_at(dir, id).ok()?;
        let status = container::status(&st, &root.join(&st.id));
        Some((st, status))
    })
}

/// Each container's summary and live status (the table and `-q`).
fn summaries(dir: BorrowedFd, root: &Path, ids: &[String]) -> Vec<(Summary, Status)> {
    read_all(ids, |id| {
        let s = state::load_summary_at(dir, id).ok()?;
        let status = container::listed_status(&s, dir, &root.join(&s.id))?;
        Some((s, status))
    })
}

pub fn run(g: &Global, format: &str, quiet: bool) -> Result<i32> {
    if !quiet && !matches!(format, "json" | "table") {
        return Err(Error::invalid(format!(
            "invalid --format {format:?}: use table or json"
        )));
    }
    let ids = state::list_ids(&g.root)?;
    let dir = if ids.is_empty() {
        None
    } else {
        let fd = crate::sys::fd::openat(None, &g.root, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| Error::sys(format!("open {}", g.root.display()), e))?;
        Some(fd)
    };
    let dir = dir.as_ref().map(|d| d.as_fd());
    // One write for the whole listing: println! on stdout is line-buffered,
    // a write(2) per container (1000 of them for 1000 containers).
    let mut out = String::new();
    if format == "json" && !quiet {
        let rows = dir.map_or_else(Vec::new, |d| states(d, &g.root, &ids));
        let docs: Vec<_> = rows
            .iter()
            .map(|(st, s)| super::state::document(st, *s))
            .collect();
        out = serde_json::to_string(&docs)
            .map_err(|e| Error::invalid(format!("encode the listing: {e}")))?;
        out.push('\n');
        return super::emit(&out, "the listing");
    }
    let rows = dir.map_or_else(Vec::new, |d| summaries(d, &g.root, &ids));
    if quiet {
        for (st, _) in &rows {
            out.push_str(&st.id);
            out.push('\n');
        }
        return super::emit(&out, "the listing");
    }
    let mut lines = vec![[
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for (st, s) in &rows {
        let pid = if *s == container::Status::Stopped {
            0
        } else {
            st.pid
        };
        lines.push([
            st.id.clone(),
            pid.to_string(),
            s.as_str().into(),
            st.bundle.display().to_string(),
            st.created.clone(),
            st.owner.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    for l in lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    super::emit(&out, "the listing")
}
