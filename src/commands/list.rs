//! `list [--format table|json] [-q]`.

use super::Global;
use crate::container;
use crate::error::{Error, Result};
use crate::state;

pub fn run(g: &Global, format: &str, quiet: bool) -> Result<i32> {
    let mut rows = Vec::new();
    for id in state::list_ids(&g.root)? {
        // A container being deleted right now just drops out of the list.
        let Ok(st) = state::load(&g.root, &id) else {
            continue;
        };
        let status = container::status(&st, &g.root.join(&id));
        rows.push((st, status));
    }
    // One write for the whole listing: println! on stdout is line-buffered,
    // a write(2) per container (1000 of them for 1000 containers).
    let mut out = String::new();
    if quiet {
        for (st, _) in &rows {
            out.push_str(&st.id);
            out.push('\n');
        }
        return super::emit(&out, "the listing");
    }
    match format {
        "json" => {
            let docs: Vec<_> = rows
                .iter()
                .map(|(st, s)| super::state::document(st, *s))
                .collect();
            out = serde_json::to_string(&docs)
                .map_err(|e| Error::invalid(format!("encode the listing: {e}")))?;
            out.push('\n');
        }
        "table" => {
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
        }
        f => {
            return Err(Error::invalid(format!(
                "invalid --format {f:?}: use table or json"
            )))
        }
    }
    super::emit(&out, "the listing")
}
