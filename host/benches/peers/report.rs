//! Medians over the rounds (with the lowest and highest round), and each
//! peer's ratio to direct and to HAProxy.
use std::fmt::Write;

#[derive(Clone, Copy, PartialEq)]
pub enum Better {
    Higher,
    Lower,
}

pub struct Figure {
    name: &'static str,
    unit: &'static str,
    better: Better,
    samples: Vec<(&'static str, Vec<f64>)>,
}

impl Figure {
    pub fn new(name: &'static str, unit: &'static str, better: Better) -> Figure {
        Figure {
            name,
            unit,
            better,
            samples: Vec::new(),
        }
    }

    pub fn add(&mut self, peer: &'static str, value: f64) {
        match self.samples.iter_mut().find(|(p, _)| *p == peer) {
            Some((_, v)) => v.push(value),
            None => self.samples.push((peer, vec![value])),
        }
    }

    fn median(&self, peer: &str) -> Option<f64> {
        let v = self.sorted(peer)?;
        v.get(v.len() / 2).copied()
    }

    /// A peer's samples, lowest first.
    fn sorted(&self, peer: &str) -> Option<Vec<f64>> {
        let (_, v) = self.samples.iter().find(|(p, _)| *p == peer)?;
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        Some(v)
    }

    /// The lowest and highest of a peer's rounds, when there are several:
    /// how far one round may stray from the median.
    fn range(&self, peer: &str) -> String {
        match self.sorted(peer).as_deref() {
            Some([lo, .., hi]) => format!("  (rounds {lo:.2} to {hi:.2})"),
            _ => String::new(),
        }
    }
}

/// Peer `a` against peer `b`: the ratio of their throughputs, or of what
/// each adds to direct's latency.
fn versus(f: &Figure, a: &str, b: &str, direct: f64) -> String {
    let (va, vb) = (
        f.median(a).unwrap_or(f64::NAN),
        f.median(b).unwrap_or(f64::NAN),
    );
    match f.better {
        Better::Higher => format!("{a} / {b}: {:.3}", va / vb),
        // A ratio of two small differences says little on its own (it
        // turns negative when a peer measures below direct): the
        // difference too.
        Better::Lower => format!(
            "{a} added / {b} added: {:.3}, {:+.2} {}",
            (va - direct) / (vb - direct),
            va - vb,
            f.unit
        ),
    }
}

/// One block per figure. Throughputs: the ratio to direct, and Bindery's
/// ratio against HAProxy's. Latencies: what the proxy adds over direct,
/// and Bindery's added latency against HAProxy's.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::new();
    for f in figures {
        let _ = writeln!(out, "\n{} ({})", f.name, f.unit);
        let direct = f.median("direct").unwrap_or(f64::NAN);
        let haproxy = f.median("haproxy").unwrap_or(f64::NAN);
        for (peer, _) in &f.samples {
            let v = f.median(peer).unwrap_or(f64::NAN);
            let range = f.range(peer);
            let _ = match f.better {
                Better::Higher => writeln!(
                    out,
                    "  {peer:<9} {v:>12.2}  {:>6.3} x direct{range}",
                    v / direct
                ),
                Better::Lower => writeln!(
                    out,
                    "  {peer:<9} {v:>12.2}  +{:>8.2} over direct{range}",
                    v - direct
                ),
            };
        }
        if f.median("bindery-b").is_some() {
            let _ = writeln!(out, "  {}", versus(f, "bindery-b", "bindery", direct));
        }
        let bindery = f.median("bindery").unwrap_or(f64::NAN);
        let met = match f.better {
            Better::Higher => bindery >= haproxy,
            Better::Lower => bindery <= haproxy,
        };
        let verdict = if met {
            "at least HAProxy"
        } else {
            "BELOW HAProxy"
        };
        let _ = writeln!(
            out,
            "  {} ({verdict})",
            versus(f, "bindery", "haproxy", direct)
        );
    }
    out
}
