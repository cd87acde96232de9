//! `linear_reg` (least squares) and `logistic_reg` (binary: logistic;
//! multiclass: softmax), with L2 and L1 penalties on the coefficients (not
//! the intercepts). The objective is the sum of the row losses plus
//! `l2_reg / 2 · Σw² + l1_reg · Σ|w|`, so `l2_reg = 1 / C` of scikit-learn.
//!
//! Sums over rows run in fixed chunks whose partial results are added in
//! chunk order, so results do not depend on the number of threads.

use super::optimize::{minimize, Settings};
use super::preprocess::Matrix;

/// Rows per chunk of a parallel sum (fixed: it decides the order in which
/// partial sums are added).
const CHUNK: usize = 16_384;

/// Σ over rows of `f(row range, accumulator)`, computed on every core in
/// fixed chunks and added in chunk order.
fn chunked_sum(
    rows: usize,
    width: usize,
    f: impl Fn(std::ops::Range<usize>, &mut [f64]) + Sync,
) -> Vec<f64> {
    let chunks = rows.div_ceil(CHUNK).max(1);
    let threads = super::cores().min(chunks);
    let mut partials = vec![vec![0.0; width]; chunks];
    std::thread::scope(|scope| {
        let f = &f;
        let mut slots: Vec<Vec<(usize, &mut Vec<f64>)>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (c, p) in partials.iter_mut().enumerate() {
            slots[c % threads].push((c, p));
        }
        for slot in slots {
            scope.spawn(move || {
                for (c, acc) in slot {
                    f(c * CHUNK..((c + 1) * CHUNK).min(rows), acc);
                }
            });
        }
    });
    let mut total = vec![0.0; width];
    for p in &partials {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// The nonzero inputs of each row. Most encoded inputs are zeros (a one-hot
/// block has one 1 per row), and the optimizer's objective runs over every
/// row at every iteration: its dot products and gradient sums skip the
/// zeros. A zero term adds ±0, which leaves a nonzero sum as it is, so the
/// gradient sums and every row's score (intercept + Σ) are those over every
/// input; only a row of zeros' bare Σ may differ, in the sign of its 0.
struct SparseRows {
    /// Row i's entries are `starts[i]..starts[i + 1]`.
    starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f64>,
}

impl SparseRows {
    fn new(x: &Matrix) -> Self {
        let mut starts = Vec::with_capacity(x.rows + 1);
        let (mut columns, mut values) = (Vec::new(), Vec::new());
        starts.push(0);
        for i in 0..x.rows {
            for (c, &v) in x.row(i).iter().enumerate() {
                if v != 0.0 {
                    columns.push(c as u32);
                    values.push(v);
                }
            }
            starts.push(values.len());
        }
        Self {
            starts,
            columns,
            values,
        }
    }

    fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let range = self.starts[i]..self.starts[i + 1];
        (&self.columns[range.clone()], &self.values[range])
    }

    /// Σ row i's inputs × `weights`, in column order.
    fn dot(&self, i: usize, weights: &[f64]) -> f64 {
        let (columns, values) = self.row(i);
        columns
            .iter()
            .zip(values)
            .map(|(&c, v)| v * weights[c as usize])
            .sum()
    }

    /// `acc[c] += scale × input c` for row i's inputs.
    fn add_scaled(&self, i: usize, scale: f64, acc: &mut [f64]) {
        let (columns, values) = self.row(i);
        for (&c, v) in columns.iter().zip(values) {
            acc[c as usize] += scale * v;
        }
    }
}

pub struct Penalty {
    pub l1: f64,
    pub l2: f64,
}

pub struct Fitted {
    /// One row of coefficients per output.
    pub coef: Vec<Vec<f64>>,
    pub intercept: Vec<f64>,
    pub iterations: usize,
}

/// Splits a parameter vector laid out as `outputs × (width + 1)` rows of
/// `[coefficients…, intercept]`.
fn unpack(params: &[f64], width: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    params
        .chunks_exact(width + 1)
        .map(|r| (r[..width].to_vec(), r[width]))
        .unzip()
}

fn penalized_mask(outputs: usize, width: usize) -> Vec<bool> {
    (0..outputs * (width + 1))
        .map(|i| i % (width + 1) != width)
        .collect()
}

/// Adds the L2 term (scaled by 1/n) to the objective and gradient.
fn add_l2(params: &[f64], grad: &mut [f64], width: usize, l2_over_n: f64) -> f64 {
    let mut extra = 0.0;
    if l2_over_n > 0.0 {
        for (i, (p, g)) in params.iter().zip(grad.iter_mut()).enumerate() {
            if i % (width + 1) != width {
                extra += 0.5 * l2_over_n * p * p;
                *g += l2_over_n * p;
            }
        }
    }
    extra
}

/// Least squares. Without L1 it solves the normal equations exactly (a
/// Cholesky factorization); with L1 it minimizes with OWL-QN.
pub fn fit_linear(
    x: &Matrix,
    y: &[f64],
    penalty: &Penalty,
    max_iterations: usize,
    progress: impl FnMut(usize, f64) -> bool,
) -> Fitted {
    let d = x.cols;
    let n = x.rows.max(1) as f64;
    if penalty.l1 == 0.0 {
        // [X 1]ᵀ[X 1] and [X 1]ᵀy, upper triangle, in one pass.
        let m = d + 1;
        let sums = chunked_sum(x.rows, m * m + m, |range, acc| {
            let mut row = vec![0.0; m];
            for i in range {
                row[..d].copy_from_slice(x.row(i));
                row[d] = 1.0;
                for a in 0..m {
                    let ra = row[a];
                    if ra == 0.0 {
                        continue;
                    }
                    let base = a * m;
                    for b in a..m {
                        acc[base + b] += ra * row[b];
                    }
                    acc[m * m + a] += ra * y[i];
                }
            }
        });
        let mut gram = sums[..m * m].to_vec();
        let rhs = sums[m * m..].to_vec();
        for a in 0..m {
            for b in 0..a {
                gram[a * m + b] = gram[b * m + a];
            }
        }
        // The L2 penalty, plus a tiny ridge so that collinear inputs (one-hot
        // columns next to the intercept) still give one, stable solution.
        let trace: f64 = (0..m).map(|a| gram[a * m + a]).sum::<f64>() / m as f64;
        for a in 0..d {
            gram[a * m + a] += penalty.l2 + 1e-10 * trace.max(1.0);
        }
        gram[d * m + d] += 1e-10 * trace.max(1.0);
        let solution = cholesky_solve(&mut gram, rhs, m);
        let (coef, intercept) = unpack(&solution, d);
        return Fitted {
            coef,
            intercept,
            iterations: 1,
        };
    }
    let mask = penalized_mask(1, d);
    let sparse = SparseRows::new(x);
    let objective = |params: &[f64], grad: &mut [f64]| -> f64 {
        let sums = chunked_sum(x.rows, d + 2, |range, acc| {
            for i in range {
                let pred = params[d] + sparse.dot(i, params);
                let r = pred - y[i];
                sparse.add_scaled(i, r, &mut acc[..d]);
                acc[d] += r;
                acc[d + 1] += 0.5 * r * r;
            }
        });
        grad.iter_mut()
            .zip(&sums[..d + 1])
            .for_each(|(g, s)| *g = s / n);
        sums[d + 1] / n + add_l2(params, grad, d, penalty.l2 / n)
    };
    let settings = Settings {
        max_iterations,
        tolerance: 1e-10,
        l1: penalty.l1 / n,
        penalized: &mask,
    };
    let out = minimize(vec![0.0; d + 1], objective, &settings, progress);
    let (coef, intercept) = unpack(&out.x, d);
    Fitted {
        coef,
        intercept,
        iterations: out.iterations,
    }
}

/// Solves A·x = b for a symmetric positive definite A (overwritten).
fn cholesky_solve(a: &mut [f64], mut b: Vec<f64>, m: usize) -> Vec<f64> {
    for j in 0..m {
        let mut diag = a[j * m + j];
        for k in 0..j {
            diag -= a[j * m + k] * a[j * m + k];
        }
        let diag = diag.max(f64::MIN_POSITIVE).sqrt();
        a[j * m + j] = diag;
        for i in j + 1..m {
            let mut v = a[i * m + j];
            for k in 0..j {
                v -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = v / diag;
        }
    }
    for i in 0..m {
        for k in 0..i {
            b[i] -= a[i * m + k] * b[k];
        }
        b[i] /= a[i * m + i];
    }
    for i in (0..m).rev() {
        for k in i + 1..m {
            b[i] -= a[k * m + i] * b[k];
        }
        b[i] /= a[i * m + i];
    }
    b
}

/// log(1 + eᶻ) without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Logistic regression on class indices `y` in 0..classes: one logit for
/// two classes, a softmax over all classes otherwise.
pub fn fit_logistic(
    x: &Matrix,
    y: &[f64],
    classes: usize,
    penalty: &Penalty,
    max_iterations: usize,
    progress: impl FnMut(usize, f64) -> bool,
) -> Fitted {
    let d = x.cols;
    let w = d + 1;
    let outputs = if classes == 2 { 1 } else { classes };
    let n = x.rows.max(1) as f64;
    let sparse = SparseRows::new(x);
    let objective = |params: &[f64], grad: &mut [f64]| -> f64 {
        let width = outputs * w + 1;
        let sums = chunked_sum(x.rows, width, |range, acc| {
            let (mut z, mut e) = (vec![0.0; outputs], vec![0.0; outputs]);
            for i in range {
                for (r, z) in z.iter_mut().enumerate() {
                    let p = &params[r * w..(r + 1) * w];
                    *z = p[d] + sparse.dot(i, p);
                }
                let label = y[i] as usize;
                if outputs == 1 {
                    let target = label as f64;
                    acc[width - 1] += softplus(z[0]) - target * z[0];
                    let r = sigmoid(z[0]) - target;
                    sparse.add_scaled(i, r, &mut acc[..d]);
                    acc[d] += r;
                } else {
                    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    for (e, z) in e.iter_mut().zip(&z) {
                        *e = (z - max).exp();
                    }
                    let total: f64 = e.iter().sum();
                    acc[width - 1] += max + total.ln() - z[label];
                    for (r, &er) in e.iter().enumerate() {
                        let p = er / total;
                        let residual = p - if r == label { 1.0 } else { 0.0 };
                        let base = r * w;
                        sparse.add_scaled(i, residual, &mut acc[base..base + d]);
                        acc[base + d] += residual;
                    }
                }
            }
        });
        grad.iter_mut()
            .zip(&sums[..outputs * w])
            .for_each(|(g, s)| *g = s / n);
        sums[width - 1] / n + add_l2(params, grad, d, penalty.l2 / n)
    };
    let mask = penalized_mask(outputs, d);
    let settings = Settings {
        max_iterations,
        tolerance: 1e-10,
        l1: penalty.l1 / n,
        penalized: &mask,
    };
    let out = minimize(vec![0.0; outputs * w], objective, &settings, progress);
    let (coef, intercept) = unpack(&out.x, d);
    Fitted {
        coef,
        intercept,
        iterations: out.iterations,
    }
}

pub fn predict_linear(x: &Matrix, coef: &[f64], intercept: f64) -> Vec<f64> {
    (0..x.rows)
        .map(|i| intercept + x.row(i).iter().zip(coef).map(|(a, b)| a * b).sum::<f64>())
        .collect()
}

/// Class probabilities, row-major (n × classes).
pub fn predict_proba(x: &Matrix, coef: &[Vec<f64>], intercept: &[f64]) -> Vec<f64> {
    let outputs = coef.len();
    let classes = if outputs == 1 { 2 } else { outputs };
    let mut probs = vec![0.0; x.rows * classes];
    let mut z = vec![0.0; outputs];
    for i in 0..x.rows {
        let row = x.row(i);
        for r in 0..outputs {
            z[r] = intercept[r] + row.iter().zip(&coef[r]).map(|(a, b)| a * b).sum::<f64>();
        }
        let out = &mut probs[i * classes..(i + 1) * classes];
        if outputs == 1 {
            let p = sigmoid(z[0]);
            out[0] = 1.0 - p;
            out[1] = p;
        } else {
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = z.iter().map(|v| (v - max).exp()).sum();
            for r in 0..outputs {
                out[r] = (z[r] - max).exp() / total;
            }
        }
    }
    probs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[[f64; 2]]) -> Matrix {
        Matrix {
            rows: rows.len(),
            cols: 2,
            data: rows.iter().flatten().copied().collect(),
        }
    }

    /// The objective's sums over nonzero inputs are the sums over all of
    /// them, to the bit: one-hot rows, -0.0, a row of zeros, negative
    /// weights.
    #[test]
    fn sparse_rows_sum_as_dense_rows_do() {
        let cols = 7;
        let data: Vec<f64> = (0..40 * cols)
            .map(|k| match (k / cols, k % cols) {
                (r, 0) => r as f64 / 3.0 - 5.0,
                // Row 15 is all zeros.
                (r, 1) if r % 4 == 0 || r == 15 => -0.0,
                (r, 1) => (r as f64).sqrt(),
                (r, c) if r % 5 == 0 => 0.0 * c as f64,
                (r, c) => f64::from(u8::from(c == 2 + r % 5)),
            })
            .collect();
        let x = Matrix {
            rows: 40,
            cols,
            data,
        };
        let sparse = SparseRows::new(&x);
        let weights: Vec<f64> = (0..cols).map(|c| (c as f64 - 3.3) * 0.71).collect();
        let (mut dense_acc, mut sparse_acc) = (vec![0.0; cols], vec![0.0; cols]);
        for i in 0..x.rows {
            let intercept = 0.25;
            let dense = intercept
                + x.row(i)
                    .iter()
                    .zip(&weights)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            let sparse_score = intercept + sparse.dot(i, &weights);
            assert_eq!(dense.to_bits(), sparse_score.to_bits(), "row {i}");
            let scale = i as f64 / 7.0 - 2.0;
            for (a, v) in dense_acc.iter_mut().zip(x.row(i)) {
                *a += scale * v;
            }
            sparse.add_scaled(i, scale, &mut sparse_acc);
        }
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&dense_acc), bits(&sparse_acc));
    }

    #[test]
    fn linear_recovers_exact_coefficients() {
        let x = matrix(&[[1.0, 2.0], [2.0, -1.0], [3.0, 0.5], [-1.0, 4.0], [0.0, 0.0]]);
        let y: Vec<f64> = (0..x.rows)
            .map(|i| 1.5 + 2.0 * x.row(i)[0] - 3.0 * x.row(i)[1])
            .collect();
        let none = Penalty { l1: 0.0, l2: 0.0 };
        let fit = fit_linear(&x, &y, &none, 100, |_, _| true);
        assert!((fit.coef[0][0] - 2.0).abs() < 1e-6, "{:?}", fit.coef);
        assert!((fit.coef[0][1] + 3.0).abs() < 1e-6, "{:?}", fit.coef);
        assert!((fit.intercept[0] - 1.5).abs() < 1e-6, "{:?}", fit.intercept);
        // The iterative path (with a negligible L1) agrees.
        let tiny_l1 = Penalty { l1: 1e-9, l2: 0.0 };
        let fit = fit_linear(&x, &y, &tiny_l1, 500, |_, _| true);
        assert!((fit.coef[0][0] - 2.0).abs() < 1e-3, "{:?}", fit.coef);
        assert!((fit.coef[0][1] + 3.0).abs() < 1e-3, "{:?}", fit.coef);
    }

    #[test]
    fn multiclass_logistic_learns_its_training_rows() {
        // Three classes, with L2 so that the optimum is finite.
        let x = matrix(&[
            [0.0, 1.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [0.0, 0.0],
            [2.0, 1.0],
            [-1.0, 0.5],
        ]);
        let y = vec![0.0, 1.0, 1.0, 0.0, 2.0, 0.0];
        let penalty = Penalty { l1: 0.0, l2: 0.5 };
        let fit = fit_logistic(&x, &y, 3, &penalty, 500, |_, _| true);
        let probs = predict_proba(&x, &fit.coef, &fit.intercept);
        for row in probs.chunks_exact(3) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // Training rows are mostly predicted as their own class.
        let right = probs
            .chunks_exact(3)
            .zip(&y)
            .filter(|(p, &c)| super::super::argmax_rows(p, 3)[0] == c)
            .count();
        assert!(right >= 5, "{probs:?}");
    }
}
