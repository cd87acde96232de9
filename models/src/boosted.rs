//! `boosted_tree_classifier` and `boosted_tree_regressor`: histogram
//! gradient boosting (as XGBoost's `hist` and LightGBM do), grown depth-wise.
//!
//! Each input column is cut into at most 256 bins at quantiles of its
//! training values; trees split on bin boundaries by the second-order gain
//! G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) − γ, and leaves take
//! −G/(H+λ) × learning rate. Regression fits squared error, two classes the
//! logistic loss, more classes one tree per class per round (softmax).
//! Deterministic: histograms are summed over rows in their canonical order,
//! one column at a time, and ties between splits go to the lower column and
//! bin.

use serde::{Deserialize, Serialize};

use super::preprocess::Matrix;

/// The bins of one input column: a value x falls in the first bin whose
/// upper bound is ≥ x.
struct Bins {
    upper: Vec<f64>,
}

const MAX_BINS: usize = 256;

/// Adds `v` to `few`, the distinct values seen so far with their counts:
/// values equal by `==` are one (-0.0 and 0.0, standing as the first of
/// them in total order), each NaN is its own. False, leaving `few` as it
/// was, if `v` would make more than `MAX_BINS` of them.
fn count_distinct(few: &mut Vec<(f64, usize)>, v: f64) -> bool {
    match few.iter().position(|(d, _)| *d == v) {
        Some(i) => {
            let (d, count) = &mut few[i];
            *count += 1;
            if v.total_cmp(d).is_lt() {
                *d = v;
            }
            true
        }
        None if few.len() < MAX_BINS => {
            few.push((v, 1));
            true
        }
        None => false,
    }
}

/// A column's values as binning gathers them: its distinct values with their
/// counts while there are at most `MAX_BINS` of them, else all of them.
enum Gathered {
    Distinct(Vec<(f64, usize)>),
    All(Vec<f64>),
}

impl Bins {
    /// The bins of a column of `n` values, from its distinct values with
    /// their counts (as [`count_distinct`] counts them) in total order.
    fn fit(distinct: &[(f64, usize)], n: usize) -> Self {
        let upper = if distinct.len() <= MAX_BINS {
            distinct.iter().map(|(v, _)| *v).collect()
        } else {
            // Bin ends at equal steps of the cumulative count.
            let mut upper = Vec::with_capacity(MAX_BINS);
            let mut seen = 0;
            for (v, count) in distinct {
                seen += count;
                if seen * MAX_BINS >= (upper.len() + 1) * n {
                    upper.push(*v);
                }
            }
            if upper.last() != distinct.last().map(|d| &d.0) {
                upper.push(distinct[distinct.len() - 1].0);
            }
            upper
        };
        Self { upper }
    }

    /// The bins of every column of `x` in `columns`, and each row's bin.
    /// Columns of at most `MAX_BINS` distinct values (one-hot columns, small
    /// integers) are counted in one pass over the rows; only the others are
    /// copied out and sorted.
    fn fit_columns(x: &Matrix, columns: std::ops::Range<usize>) -> Vec<(Bins, Vec<u8>)> {
        let d = x.cols.max(1);
        let mut gathered: Vec<Gathered> = columns
            .clone()
            .map(|_| Gathered::Distinct(vec![]))
            .collect();
        for (i, row) in x.data.chunks_exact(d).enumerate() {
            for (g, c) in gathered.iter_mut().zip(columns.clone()) {
                match g {
                    Gathered::Distinct(distinct) => {
                        if !count_distinct(distinct, row[c]) {
                            // Too many distinct values: this column is sorted instead.
                            let values = x.data.chunks_exact(d).take(i + 1).map(|r| r[c]);
                            *g = Gathered::All(values.collect());
                        }
                    }
                    Gathered::All(values) => values.push(row[c]),
                }
            }
        }
        let bins: Vec<Bins> = gathered
            .into_iter()
            .map(|g| {
                let distinct = match g {
                    Gathered::Distinct(mut distinct) => {
                        distinct.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                        distinct
                    }
                    Gathered::All(mut values) => {
                        values.sort_unstable_by(f64::total_cmp);
                        let mut distinct: Vec<(f64, usize)> = Vec::new();
                        for v in values {
                            match distinct.last_mut() {
                                Some((last, count)) if *last == v => *count += 1,
                                _ => distinct.push((v, 1)),
                            }
                        }
                        distinct
                    }
                };
                Bins::fit(&distinct, x.rows)
            })
            .collect();
        let mut binned: Vec<Vec<u8>> = columns
            .clone()
            .map(|_| Vec::with_capacity(x.rows))
            .collect();
        for row in x.data.chunks_exact(d) {
            for ((b, out), c) in bins.iter().zip(&mut binned).zip(columns.clone()) {
                out.push(b.bin(row[c]));
            }
        }
        bins.into_iter().zip(binned).collect()
    }

    fn bin(&self, x: f64) -> u8 {
        self.upper
            .partition_point(|&u| u < x)
            .min(self.upper.len() - 1) as u8
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    /// The input column split on (rows with x ≤ threshold go left); none
    /// for a leaf.
    pub column: Option<usize>,
    #[serde(with = "super::exact")]
    pub threshold: f64,
    pub left: usize,
    pub right: usize,
    #[serde(with = "super::exact")]
    pub value: f64,
}

impl Node {
    fn leaf() -> Self {
        Self {
            column: None,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: 0.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    fn predict(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let node = &self.nodes[i];
            match node.column {
                None => return node.value,
                Some(c) => {
                    i = if row[c] <= node.threshold {
                        node.left
                    } else {
                        node.right
                    }
                }
            }
        }
    }
}

/// The boosted ensemble: the base scores and, per round, one tree per
/// output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ensemble {
    #[serde(with = "super::exact")]
    pub base: Vec<f64>,
    pub rounds: Vec<Vec<Tree>>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub rounds: usize,
    pub max_depth: usize,
    pub learning_rate: f64,
    pub l2: f64,
    pub min_split_loss: f64,
    pub min_child_weight: f64,
}

/// Σg, Σh and the row count of one bin.
#[derive(Clone, Copy, Default)]
struct Sums {
    g: f64,
    h: f64,
    n: u32,
}

impl Sums {
    fn minus(self, o: Sums) -> Sums {
        Sums {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// The histogram of one input column over a node's rows.
type Hist = Vec<Sums>;

/// A one-hot block of input columns, whose histograms all come from one
/// pass over the rows: `codes[r]` is the hot column's index in the block,
/// or the block's width when none is hot (NULL).
struct Bundle {
    start: usize,
    width: usize,
    codes: Vec<u8>,
}

/// The binned training inputs.
struct Layout {
    bins: Vec<Bins>,
    /// Per column, each row's bin (for partitioning rows).
    binned: Vec<Vec<u8>>,
    /// Columns whose histograms are built on their own.
    plain: Vec<usize>,
    bundles: Vec<Bundle>,
}

impl Layout {
    fn new(x: &Matrix, one_hot: &[(usize, usize)]) -> Self {
        let (n, d) = (x.rows, x.cols);
        // The columns are binned on every core, each column on its own (the
        // bins of a column do not depend on which thread fits them).
        let threads = super::cores();
        let per_thread = d.div_ceil(threads).max(1);
        let fitted: Vec<(Bins, Vec<u8>)> = std::thread::scope(|scope| {
            let parts: Vec<_> = (0..d)
                .step_by(per_thread)
                .map(|first| {
                    scope.spawn(move || Bins::fit_columns(x, first..(first + per_thread).min(d)))
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().expect("binning thread"))
                .collect()
        });
        let (bins, binned): (Vec<Bins>, Vec<Vec<u8>>) = fitted.into_iter().unzip();
        let mut in_bundle = vec![false; d];
        let mut bundles = Vec::new();
        for &(start, width) in one_hot {
            if width + 1 > MAX_BINS || start + width > d {
                continue;
            }
            let codes = (0..n)
                .map(|i| {
                    let row = &x.row(i)[start..start + width];
                    row.iter().position(|&v| v != 0.0).unwrap_or(width) as u8
                })
                .collect();
            in_bundle[start..start + width]
                .iter_mut()
                .for_each(|b| *b = true);
            bundles.push(Bundle {
                start,
                width,
                codes,
            });
        }
        let plain = (0..d).filter(|&c| !in_bundle[c]).collect();
        Self {
            bins,
            binned,
            plain,
            bundles,
        }
    }

    /// The histogram of every column over `rows`, on every core (each
    /// column's sums run over the rows in order, so the result does not
    /// depend on the number of threads).
    fn histograms(&self, rows: &[u32], gh: &[[f64; 2]]) -> Vec<Hist> {
        let tasks = self.plain.len() + self.bundles.len();
        // Small nodes are summed on this thread: starting threads would cost
        // more than the sums.
        let threads = if rows.len() < 16_384 {
            1
        } else {
            super::cores().min(tasks).max(1)
        };
        let mut out: Vec<Hist> = vec![Vec::new(); self.bins.len()];
        let mut keep = |done: Vec<(usize, Hist)>| {
            for (c, hist) in done {
                out[c] = hist;
            }
        };
        if threads == 1 {
            keep(self.task_histograms(0, 1, rows, gh));
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| scope.spawn(move || self.task_histograms(t, threads, rows, gh)))
                    .collect();
                for handle in handles {
                    keep(handle.join().expect("histogram thread"));
                }
            });
        }
        out
    }

    /// The codes one histogram task sums by: a plain column's bins, or a
    /// one-hot block's codes.
    fn task_codes(&self, task: usize) -> &[u8] {
        match self.plain.get(task) {
            Some(&c) => &self.binned[c],
            None => &self.bundles[task - self.plain.len()].codes,
        }
    }

    /// The histograms of thread `t`'s share of the columns and bundles. Up
    /// to four tasks share one pass over the rows, so each row's gradient is
    /// read once for them all (their sums stay in L1).
    fn task_histograms(
        &self,
        t: usize,
        threads: usize,
        rows: &[u32],
        gh: &[[f64; 2]],
    ) -> Vec<(usize, Hist)> {
        let tasks: Vec<usize> = (t..self.plain.len() + self.bundles.len())
            .step_by(threads)
            .collect();
        let mut done: Vec<(usize, Hist)> = Vec::new();
        for group in tasks.chunks(4) {
            let codes = |j: usize| self.task_codes(group[j]);
            let sums: Vec<[Sums; 256]> = match group.len() {
                1 => sum_by_code([codes(0)], rows, gh).to_vec(),
                2 => sum_by_code([codes(0), codes(1)], rows, gh).to_vec(),
                3 => sum_by_code([codes(0), codes(1), codes(2)], rows, gh).to_vec(),
                _ => sum_by_code([codes(0), codes(1), codes(2), codes(3)], rows, gh).to_vec(),
            };
            for (&task, by_code) in group.iter().zip(&sums) {
                match self.plain.get(task) {
                    Some(&c) => done.push((c, by_code[..self.bins[c].upper.len()].to_vec())),
                    None => done.extend(
                        self.bundle_histograms(&self.bundles[task - self.plain.len()], by_code),
                    ),
                }
            }
        }
        done
    }

    /// The histograms of a one-hot block's columns, from the sums of its
    /// codes: a column's rows with value 1 are its code's sums, the rest
    /// are all other rows.
    fn bundle_histograms(&self, bundle: &Bundle, by_code: &[Sums]) -> Vec<(usize, Hist)> {
        let by_code = &by_code[..bundle.width + 1];
        let total = by_code.iter().fold(Sums::default(), |a, b| Sums {
            g: a.g + b.g,
            h: a.h + b.h,
            n: a.n + b.n,
        });
        (0..bundle.width)
            .map(|j| {
                let c = bundle.start + j;
                // The column's bins are its distinct training values: 0 and
                // 1, or just one of them.
                let hist = match self.bins[c].upper.as_slice() {
                    [_, _] => vec![total.minus(by_code[j]), by_code[j]],
                    _ => vec![total],
                };
                (c, hist)
            })
            .collect()
    }
}

/// Σg, Σh and the count of `rows` by each of `M` code columns, in row order.
fn sum_by_code<const M: usize>(
    codes: [&[u8]; M],
    rows: &[u32],
    gh: &[[f64; 2]],
) -> [[Sums; 256]; M] {
    let mut sums = [[Sums::default(); 256]; M];
    for &r in rows {
        let r = r as usize;
        let [g, h] = gh[r];
        for j in 0..M {
            let b = &mut sums[j][codes[j][r] as usize];
            b.g += g;
            b.h += h;
            b.n += 1;
        }
    }
    sums
}

struct Split {
    column: usize,
    bin: u8,
    gain: f64,
    /// The sums of the rows going left.
    left: Sums,
}

fn score(g: f64, h: f64, l2: f64) -> f64 {
    g * g / (h + l2)
}

/// The best split of a node from its histograms (ties to the lower column
/// and bin), if any gains.
fn best_split(hists: &[Hist], node: Sums, s: &Settings) -> Option<Split> {
    let (gs, hs) = (node.g, node.h);
    let parent = score(gs, hs, s.l2);
    let mut best: Option<Split> = None;
    for (c, hist) in hists.iter().enumerate() {
        let mut left = Sums::default();
        for (bin, sums) in hist[..hist.len().saturating_sub(1)].iter().enumerate() {
            left.g += sums.g;
            left.h += sums.h;
            left.n += sums.n;
            let (gl, hl) = (left.g, left.h);
            let (gr, hr) = (gs - gl, hs - hl);
            // Both sides need rows (with min_child_weight 0 and l2_reg 0 an
            // empty side would divide 0 by 0).
            if left.n == 0 || left.n == node.n || hl < s.min_child_weight || hr < s.min_child_weight
            {
                continue;
            }
            let gain = score(gl, hl, s.l2) + score(gr, hr, s.l2) - parent;
            if best.as_ref().is_none_or(|b| gain > b.gain) {
                best = Some(Split {
                    column: c,
                    bin: bin as u8,
                    gain,
                    left,
                });
            }
        }
    }
    best.filter(|b| b.gain / 2.0 > s.min_split_loss && b.gain > 0.0)
}

/// A node still to grow: its rows (`order[start..end]`), their sums, and
/// its histograms if it may split.
struct Pending {
    id: usize,
    start: usize,
    end: usize,
    depth: usize,
    sums: Sums,
    hists: Option<Vec<Hist>>,
}

/// Buffers that every tree of a fit reuses: fresh row-sized allocations per
/// tree and per node cost more in page faults than the work itself.
struct Scratch {
    /// Each node's rows, a range of this permutation, ascending within it.
    order: Vec<u32>,
    /// The right-hand rows while a range is partitioned.
    right: Vec<u32>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self {
            order: Vec::with_capacity(n),
            right: vec![0; n],
        }
    }
}

/// Grows one tree on the gradients; adds each row's leaf value to its
/// score, `scores[row]`. A node's histograms come from
/// its parent's: the smaller child's are summed, the larger's are the
/// parent's minus the smaller's. Its sums come from its parent's split (the
/// running sums up to the split bin, or the parent's minus those). Rows stay
/// in ascending order within every node (the partition is stable), so every
/// sum runs in the same order whatever the layout.
fn grow(
    layout: &Layout,
    gh: &[[f64; 2]],
    s: &Settings,
    scratch: &mut Scratch,
    scores: &mut [f64],
) -> Tree {
    let n = gh.len();
    let Scratch { order, right } = scratch;
    let leaf_value = |sums: Sums| -sums.g / (sums.h + s.l2) * s.learning_rate;
    order.clear();
    order.extend(0..n as u32);
    let mut nodes: Vec<Node> = vec![Node::leaf()];
    let root = (s.max_depth > 0).then(|| layout.histograms(order, gh));
    let sums = gh.iter().fold(Sums::default(), |a, [g, h]| Sums {
        g: a.g + g,
        h: a.h + h,
        n: a.n + 1,
    });
    let mut frontier = vec![Pending {
        id: 0,
        start: 0,
        end: n,
        depth: 0,
        sums,
        hists: root,
    }];
    while let Some(Pending {
        id,
        start,
        end,
        depth,
        sums,
        hists,
    }) = frontier.pop()
    {
        let rows = &mut order[start..end];
        let split = hists
            .as_deref()
            .filter(|_| rows.len() > 1)
            .and_then(|hists| best_split(hists, sums, s));
        let Some(split) = split else {
            let value = leaf_value(sums);
            nodes[id].value = value;
            for &r in rows.iter() {
                scores[r as usize] += value;
            }
            continue;
        };
        let col = &layout.binned[split.column];
        let (l, r) = (nodes.len(), nodes.len() + 1);
        nodes.push(Node::leaf());
        nodes.push(Node::leaf());
        nodes[id].column = Some(split.column);
        nodes[id].threshold = layout.bins[split.column].upper[split.bin as usize];
        nodes[id].left = l;
        nodes[id].right = r;
        if depth + 1 >= s.max_depth {
            // Both children are leaves: their rows need their values, not
            // a partition.
            let values = [leaf_value(split.left), leaf_value(sums.minus(split.left))];
            nodes[l].value = values[0];
            nodes[r].value = values[1];
            for &row in rows.iter() {
                let value = values[usize::from(col[row as usize] > split.bin)];
                scores[row as usize] += value;
            }
            continue;
        }
        let nl = partition(rows, &mut right[..end - start], col, split.bin);
        let nr = rows.len() - nl;
        debug_assert_eq!(nl, split.left.n as usize);
        let mid = start + nl;
        let (left_hists, right_hists) = match hists {
            Some(parent) => {
                let small_is_left = nl <= nr;
                let small_rows = if small_is_left {
                    &order[start..mid]
                } else {
                    &order[mid..end]
                };
                let small = layout.histograms(small_rows, gh);
                let large: Vec<Hist> = parent
                    .iter()
                    .zip(&small)
                    .map(|(p, c)| p.iter().zip(c).map(|(p, c)| p.minus(*c)).collect())
                    .collect();
                if small_is_left {
                    (Some(small), Some(large))
                } else {
                    (Some(large), Some(small))
                }
            }
            _ => (None, None),
        };
        frontier.push(Pending {
            id: r,
            start: mid,
            end,
            depth: depth + 1,
            sums: sums.minus(split.left),
            hists: right_hists,
        });
        frontier.push(Pending {
            id: l,
            start,
            end: mid,
            depth: depth + 1,
            sums: split.left,
            hists: left_hists,
        });
    }
    Tree { nodes }
}

/// Partitions `rows` in place, stably: the rows whose `col` code is at most
/// `bin` first, then the others, each in their order; returns how many go
/// first. `right` (as long as `rows`) is scratch. Many rows are split
/// between the cores: each part is partitioned on its own, then the parts'
/// left rows and right rows are joined in order, which is the same result.
fn partition(rows: &mut [u32], right: &mut [u32], col: &[u8], bin: u8) -> usize {
    let threads = if rows.len() < 65_536 {
        1
    } else {
        super::cores()
    };
    if threads == 1 {
        let nl = partition_part(rows, right, col, bin);
        let nr = rows.len() - nl;
        rows[nl..].copy_from_slice(&right[..nr]);
        return nl;
    }
    let per_thread = rows.len().div_ceil(threads);
    // Each part's left rows at the start of its part of `rows`, its right
    // rows at the start of its part of `right`.
    let lefts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks_mut(per_thread)
            .zip(right.chunks_mut(per_thread))
            .map(|(rows, right)| scope.spawn(move || partition_part(rows, right, col, bin)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("partition thread"))
            .collect()
    });
    let mut nl = 0;
    for (p, &left) in lefts.iter().enumerate() {
        // Never forward of its source: nl ≤ p × per_thread.
        rows.copy_within(p * per_thread..p * per_thread + left, nl);
        nl += left;
    }
    let mut at = nl;
    for (p, &left) in lefts.iter().enumerate() {
        let from = p * per_thread;
        let nr = per_thread.min(rows.len() - from) - left;
        rows[at..at + nr].copy_from_slice(&right[from..from + nr]);
        at += nr;
    }
    nl
}

/// The left rows of `rows` compacted at its start, its right rows at the
/// start of `right`, each in order; returns the number of left rows.
fn partition_part(rows: &mut [u32], right: &mut [u32], col: &[u8], bin: u8) -> usize {
    let (mut nl, mut nr) = (0, 0);
    for i in 0..rows.len() {
        let r = rows[i];
        if col[r as usize] <= bin {
            rows[nl] = r;
            nl += 1;
        } else {
            right[nr] = r;
            nr += 1;
        }
    }
    nl
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Rows per piece of the gradient pass: the loss is summed per piece and
/// the pieces in order, so it does not depend on the number of threads.
const GRADIENT_ROWS: usize = 1 << 16;

/// Sets each row's gradient and hessian of every output (`gh[k][i]`) from
/// its raw scores, `base[k]` plus `trees_sum[k][i]`; returns the
/// summed loss. Runs on every core: each row's values depend on that row
/// only.
fn gradients(
    classes: usize,
    y: &[f64],
    base: &[f64],
    trees_sum: &[Vec<f64>],
    gh: &mut [Vec<[f64; 2]>],
) -> f64 {
    let outputs = gh.len();
    let pieces = y.len().div_ceil(GRADIENT_ROWS);
    // Each piece's rows of every output.
    let mut work: Vec<Vec<&mut [[f64; 2]]>> = (0..pieces).map(|_| Vec::new()).collect();
    for out in gh.iter_mut() {
        for (piece, rows) in out.chunks_mut(GRADIENT_ROWS).enumerate() {
            work[piece].push(rows);
        }
    }
    let piece_loss = |piece: usize, gh: &mut [&mut [[f64; 2]]]| {
        let first = piece * GRADIENT_ROWS;
        let (mut row, mut probs) = (vec![0.0; outputs], vec![0.0; outputs]);
        let mut loss = 0.0;
        for j in 0..gh.first().map_or(0, |rows| rows.len()) {
            let i = first + j;
            for ((z, b), t) in row.iter_mut().zip(base).zip(trees_sum) {
                *z = b + t[i];
            }
            match classes {
                0 => {
                    let g = row[0] - y[i];
                    gh[0][j] = [g, 1.0];
                    loss += 0.5 * g * g;
                }
                2 => {
                    let p = sigmoid(row[0]);
                    gh[0][j] = [p - y[i], (p * (1.0 - p)).max(1e-16)];
                    loss -= if y[i] > 0.5 { p } else { 1.0 - p }.max(1e-15).ln();
                }
                _ => {
                    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    for (p, v) in probs.iter_mut().zip(&row) {
                        *p = (v - max).exp();
                    }
                    let total: f64 = probs.iter().sum();
                    probs.iter_mut().for_each(|p| *p /= total);
                    let label = y[i] as usize;
                    for (k, out) in gh.iter_mut().enumerate() {
                        let target = if label == k { 1.0 } else { 0.0 };
                        out[j] = [probs[k] - target, (probs[k] * (1.0 - probs[k])).max(1e-16)];
                    }
                    loss -= probs[label].max(1e-15).ln();
                }
            }
        }
        loss
    };
    let threads = super::cores().min(pieces).max(1);
    let per_thread = pieces.div_ceil(threads).max(1);
    let losses: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks_mut(per_thread)
            .enumerate()
            .map(|(t, mine)| {
                scope.spawn(move || {
                    mine.iter_mut()
                        .enumerate()
                        .map(|(p, gh)| piece_loss(t * per_thread + p, gh))
                        .collect::<Vec<f64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("gradient thread"))
            .collect()
    });
    losses.iter().sum()
}

/// Fits an ensemble. `classes` is 0 for regression (`y` the targets), else
/// the number of classes (`y` the class indices). `one_hot` lists the
/// (first column, width) of the one-hot blocks, whose histograms are built
/// in one pass each.
pub fn fit(
    x: &Matrix,
    y: &[f64],
    classes: usize,
    s: &Settings,
    one_hot: &[(usize, usize)],
    mut progress: impl FnMut(usize, f64) -> bool,
) -> (Ensemble, Vec<f64>) {
    let n = x.rows;
    let layout = Layout::new(x, one_hot);
    let outputs = if classes > 2 { classes } else { 1 };
    let base: Vec<f64> = match classes {
        0 => vec![y.iter().sum::<f64>() / n as f64],
        2 => {
            let p = (y.iter().sum::<f64>() / n as f64).clamp(1e-12, 1.0 - 1e-12);
            vec![(p / (1.0 - p)).ln()]
        }
        k => (0..k)
            .map(|c| {
                let p = y.iter().filter(|&&v| v as usize == c).count() as f64 / n as f64;
                p.max(1e-12).ln()
            })
            .collect(),
    };
    // Each row's sum of its trees' values for each output, added up as
    // `Ensemble::raw` adds them (from -0.0, round by round): a row's raw
    // score is its base plus this, and the training rows' scores need no
    // second pass through the trees.
    let mut trees_sum = vec![vec![-0.0; n]; outputs];
    let mut rounds = Vec::with_capacity(s.rounds);
    // Gradient and hessian of every row for each output, at the round's
    // start scores.
    let mut gh = vec![vec![[0.0; 2]; n]; outputs];
    let mut scratch = Scratch::new(n);
    for round in 0..s.rounds {
        let loss = gradients(classes, y, &base, &trees_sum, &mut gh);
        let mut trees = Vec::with_capacity(outputs);
        for (gh, scores) in gh.iter().zip(&mut trees_sum) {
            trees.push(grow(&layout, gh, s, &mut scratch, scores));
        }
        rounds.push(trees);
        if !progress(round + 1, loss / n as f64) {
            break;
        }
    }
    let raw = (0..n)
        .flat_map(|i| base.iter().zip(&trees_sum).map(move |(b, t)| b + t[i]))
        .collect();
    (Ensemble { base, rounds }, raw)
}

impl Ensemble {
    /// Raw scores for every row, n × outputs.
    pub fn raw(&self, x: &Matrix) -> Vec<f64> {
        let outputs = self.base.len();
        let mut out = vec![0.0; x.rows * outputs];
        // Rows `first..` into `out`: each row's scores depend on that row
        // only, so splitting rows across threads changes nothing.
        let score = |first: usize, out: &mut [f64]| {
            for (j, scores) in out.chunks_exact_mut(outputs).enumerate() {
                let row = x.row(first + j);
                for (k, z) in scores.iter_mut().enumerate() {
                    *z = self.base[k] + self.rounds.iter().map(|r| r[k].predict(row)).sum::<f64>();
                }
            }
        };
        // Many rows (scoring a training set) use every core; ml_predict's
        // batches are small and already run in parallel partitions.
        let threads = if x.rows < 65_536 { 1 } else { super::cores() };
        if threads == 1 || outputs == 0 {
            score(0, &mut out);
        } else {
            let rows_per_thread = x.rows.div_ceil(threads);
            std::thread::scope(|scope| {
                for (t, part) in out.chunks_mut(rows_per_thread * outputs).enumerate() {
                    scope.spawn(move || score(t * rows_per_thread, part));
                }
            });
        }
        out
    }

    /// Class probabilities, n × classes.
    pub fn predict_proba(&self, x: &Matrix) -> Vec<f64> {
        self.probabilities(self.raw(x))
    }

    /// Class probabilities, n × classes, from raw scores (n × outputs).
    pub fn probabilities(&self, raw: Vec<f64>) -> Vec<f64> {
        if self.base.len() == 1 {
            raw.iter()
                .flat_map(|&z| {
                    let p = sigmoid(z);
                    [1.0 - p, p]
                })
                .collect()
        } else {
            let k = self.base.len();
            let mut out = raw;
            for row in out.chunks_exact_mut(k) {
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = row.iter().map(|v| (v - max).exp()).sum();
                row.iter_mut().for_each(|v| *v = (*v - max).exp() / total);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rounds: usize) -> Settings {
        Settings {
            rounds,
            max_depth: 3,
            learning_rate: 0.3,
            l2: 1.0,
            min_split_loss: 0.0,
            min_child_weight: 1.0,
        }
    }

    /// The bins and binned rows of each column of a row-major `rows × cols`
    /// matrix, as training fits them.
    fn fit_columns(cols: usize, data: Vec<f64>) -> Vec<(Bins, Vec<u8>)> {
        let x = Matrix {
            rows: data.len() / cols,
            cols,
            data,
        };
        Bins::fit_columns(&x, 0..cols)
    }

    /// Bins by the definition: every value sorted, equal neighbours merged.
    fn bins_by_sorting(mut values: Vec<f64>) -> Bins {
        let n = values.len();
        values.sort_by(f64::total_cmp);
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for v in values {
            match distinct.last_mut() {
                Some((last, count)) if *last == v => *count += 1,
                _ => distinct.push((v, 1)),
            }
        }
        Bins::fit(&distinct, n)
    }

    #[test]
    fn bins_hold_every_distinct_value_when_few() {
        let (b, binned) = fit_columns(1, vec![3.0, 1.0, 2.0, 2.0, 1.0]).remove(0);
        assert_eq!(b.upper, vec![1.0, 2.0, 3.0]);
        assert_eq!(binned, vec![2, 0, 1, 1, 0]);
        assert_eq!(
            [b.bin(0.5), b.bin(1.0), b.bin(1.5), b.bin(3.0), b.bin(9.0)],
            [0, 0, 1, 2, 2]
        );
        let (many, _) = fit_columns(1, (0..10_000).map(f64::from).collect()).remove(0);
        assert_eq!(many.upper.len(), MAX_BINS);
        assert_eq!(many.upper[MAX_BINS - 1], 9999.0);
    }

    /// Columns of few distinct values are counted in one pass, the others
    /// sorted; both give the bins of sorting every value, also for a column
    /// that has few values at first, and -0.0 and 0.0 as one value.
    #[test]
    fn counted_and_sorted_columns_bin_as_sorting_does() {
        let n = 3_000;
        let columns: Vec<Vec<f64>> = vec![
            (0..n).map(|i| [0.0, -0.0, 1.0][i % 3]).collect(),
            (0..n).map(|i| ((i * 7919) % MAX_BINS) as f64).collect(),
            (0..n)
                .map(|i| ((i * 7919) % (MAX_BINS + 1)) as f64)
                .collect(),
            (0..n)
                .map(|i| if i < 2_000 { (i % 2) as f64 } else { i as f64 })
                .collect(),
            (0..n)
                .map(|i| ((i * 104_729) % 1_000) as f64 / 7.0 - 50.0)
                .collect(),
        ];
        let cols = columns.len();
        let data = (0..n)
            .flat_map(|i| columns.iter().map(move |c| c[i]))
            .collect();
        for ((bins, binned), column) in fit_columns(cols, data).into_iter().zip(columns) {
            let expected = bins_by_sorting(column.clone());
            assert_eq!(
                bins.upper.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                expected
                    .upper
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            );
            let expected_binned: Vec<u8> = column.iter().map(|&v| expected.bin(v)).collect();
            assert_eq!(binned, expected_binned);
        }
    }

    /// A node's rows are partitioned stably, on one core or split between
    /// several: every row on its side, in order; also when all go one way.
    #[test]
    fn partition_is_stable_when_split_between_cores() {
        let col: Vec<u8> = (0..200_001u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        for len in [1_000, 65_536, 133_335] {
            let rows: Vec<u32> = (0..200_001u32).filter(|i| i % 3 != 0).take(len).collect();
            for bin in [0, 100, 255] {
                let mut parted = rows.clone();
                let mut right = vec![0; rows.len()];
                let nl = partition(&mut parted, &mut right, &col, bin);
                let (left, rest): (Vec<u32>, Vec<u32>) =
                    rows.iter().partition(|&&r| col[r as usize] <= bin);
                assert_eq!(nl, left.len(), "{len} rows, bin {bin}");
                assert_eq!(parted, [left, rest].concat(), "{len} rows, bin {bin}");
            }
        }
    }

    #[test]
    fn regression_fits_a_step_function() {
        let n = 400;
        let x = Matrix {
            rows: n,
            cols: 1,
            data: (0..n).map(|i| i as f64).collect(),
        };
        let y: Vec<f64> = (0..n).map(|i| if i < 150 { 1.0 } else { 5.0 }).collect();
        let (model, _) = fit(&x, &y, 0, &settings(50), &[], |_, _| true);
        let raw = model.raw(&x);
        for (p, t) in raw.iter().zip(&y) {
            assert!((p - t).abs() < 1e-3, "{p} vs {t}");
        }
    }

    #[test]
    fn a_reloaded_ensemble_predicts_bit_for_bit() {
        // Standardized integers: many rows sit exactly on a threshold.
        let n = 2000;
        let x = Matrix {
            rows: n,
            cols: 2,
            data: (0..n)
                .flat_map(|i| [((i % 97) as f64 - 48.3) / 27.9, ((i * 7) % 13) as f64 / 3.7])
                .collect(),
        };
        let y: Vec<f64> = (0..n)
            .map(|i| ((i % 97) as f64).sin() + (i % 13) as f64)
            .collect();
        let (model, _) = fit(&x, &y, 0, &settings(20), &[], |_, _| true);
        let json = serde_json::to_vec(&model).expect("write");
        let back: Ensemble = serde_json::from_slice(&json).expect("read");
        assert_eq!(serde_json::to_vec(&back).expect("write"), json);
        let (a, b) = (model.raw(&x), back.raw(&x));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }

    /// Training keeps its rows' raw scores for the training metrics; they
    /// must be what predicting the rows gives, to the bit: regression, two
    /// and three classes, rows on thresholds, -0.0 beside 0.0, and more rows
    /// than one piece of the gradient pass.
    #[test]
    fn training_scores_are_the_predictions_bit_for_bit() {
        let n = GRADIENT_ROWS + 4_000;
        let x = Matrix {
            rows: n,
            cols: 3,
            data: (0..n)
                .flat_map(|i| {
                    let zero = if i % 2 == 0 { 0.0 } else { -0.0 };
                    [
                        ((i % 97) as f64 - 48.3) / 27.9,
                        ((i * 7) % 13) as f64 / 3.7 * zero,
                        (i % 3) as f64,
                    ]
                })
                .collect(),
        };
        for classes in [0, 2, 3] {
            let y: Vec<f64> = (0..n)
                .map(|i| match classes {
                    0 => ((i % 97) as f64).sin() + (i % 13) as f64,
                    k => ((i % 97 + i % 5) % k) as f64,
                })
                .collect();
            let (model, raw) = fit(&x, &y, classes, &settings(4), &[], |_, _| true);
            let predicted = model.raw(&x);
            assert_eq!(raw.len(), predicted.len());
            assert!(
                raw.iter()
                    .zip(&predicted)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{classes} classes"
            );
        }
    }

    #[test]
    fn one_hot_blocks_grow_the_same_trees() {
        // A number and a 4-category one-hot block (with NULL rows: all zeros).
        let n = 1200;
        let mut data = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let cat = i % 5;
            let mut row = vec![((i * 31) % 101) as f64 / 10.0, 0.0, 0.0, 0.0, 0.0];
            if cat < 4 {
                row[1 + cat] = 1.0;
            }
            y.push(row[0] + [3.0, -2.0, 0.5, 7.0, 1.0][cat]);
            data.extend(row);
        }
        let x = Matrix {
            rows: n,
            cols: 5,
            data,
        };
        let (plain, _) = fit(&x, &y, 0, &settings(15), &[], |_, _| true);
        let (bundled, _) = fit(&x, &y, 0, &settings(15), &[(1, 4)], |_, _| true);
        for (a, b) in plain.raw(&x).iter().zip(bundled.raw(&x)) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn classifiers_separate_classes() {
        let n = 300;
        let x = Matrix {
            rows: n,
            cols: 2,
            data: (0..n)
                .flat_map(|i| [(i % 30) as f64, (i % 7) as f64])
                .collect(),
        };
        let y2: Vec<f64> = (0..n).map(|i| f64::from((i % 30) >= 12)).collect();
        let (binary, _) = fit(&x, &y2, 2, &settings(30), &[], |_, _| true);
        let p = binary.predict_proba(&x);
        for (i, t) in y2.iter().enumerate() {
            assert_eq!(p[2 * i + 1] > 0.5, *t > 0.5);
        }
        let y3: Vec<f64> = (0..n).map(|i| ((i % 30) / 10) as f64).collect();
        let (multi, _) = fit(&x, &y3, 3, &settings(30), &[], |_, _| true);
        let p = multi.predict_proba(&x);
        let predicted = crate::argmax_rows(&p, 3);
        assert_eq!(predicted, y3);
    }
}
