//! L-BFGS, with the OWL-QN extension (Andrew & Gao, 2007) for an L1
//! penalty: minimizes f(x) + l1 · Σ|x_i| over the penalized coordinates,
//! where f is smooth. Deterministic: no randomness, a fixed order of
//! operations.

/// How to minimize.
pub struct Settings<'a> {
    pub max_iterations: usize,
    /// Stop when the objective improves by less than this, relatively.
    pub tolerance: f64,
    pub l1: f64,
    /// Which coordinates the L1 penalty applies to (not intercepts).
    pub penalized: &'a [bool],
}

pub struct Outcome {
    pub x: Vec<f64>,
    pub objective: f64,
    pub iterations: usize,
}

const HISTORY: usize = 10;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimizes `f` (which returns f(x) and writes ∇f(x) into its second
/// argument) plus the L1 penalty, from `x`. `progress` sees each iteration's
/// objective and returns false to stop early (a cancelled training).
pub fn minimize(
    mut x: Vec<f64>,
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    settings: &Settings,
    mut progress: impl FnMut(usize, f64) -> bool,
) -> Outcome {
    let n = x.len();
    let l1 = settings.l1;
    let penalty = |x: &[f64]| -> f64 {
        if l1 == 0.0 {
            return 0.0;
        }
        l1 * x
            .iter()
            .zip(settings.penalized)
            .filter(|(_, &p)| p)
            .map(|(v, _)| v.abs())
            .sum::<f64>()
    };
    // The steepest-descent direction of the penalized objective (its
    // pseudo-gradient), where the L1 term is not differentiable.
    let pseudo_gradient = |x: &[f64], g: &[f64], pg: &mut [f64]| {
        for i in 0..n {
            pg[i] = if l1 == 0.0 || !settings.penalized[i] {
                g[i]
            } else if x[i] > 0.0 {
                g[i] + l1
            } else if x[i] < 0.0 {
                g[i] - l1
            } else if g[i] + l1 < 0.0 {
                g[i] + l1
            } else if g[i] - l1 > 0.0 {
                g[i] - l1
            } else {
                0.0
            };
        }
    };

    let mut g = vec![0.0; n];
    let mut objective = f(&x, &mut g) + penalty(&x);
    let mut pg = vec![0.0; n];
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = [0.0; HISTORY];
    let mut iterations = 0;
    while iterations < settings.max_iterations {
        pseudo_gradient(&x, &g, &mut pg);
        let pg_norm = dot(&pg, &pg).sqrt();
        if pg_norm == 0.0 || !pg_norm.is_finite() {
            break;
        }
        // Two-loop recursion: d = −H·pg.
        d.iter_mut().zip(&pg).for_each(|(d, p)| *d = -p);
        let m = s_hist.len();
        for j in (0..m).rev() {
            alpha[j] = dot(&s_hist[j], &d) / dot(&s_hist[j], &y_hist[j]);
            let a = alpha[j];
            d.iter_mut().zip(&y_hist[j]).for_each(|(d, y)| *d -= a * y);
        }
        if m > 0 {
            let gamma = dot(&s_hist[m - 1], &y_hist[m - 1]) / dot(&y_hist[m - 1], &y_hist[m - 1]);
            d.iter_mut().for_each(|d| *d *= gamma);
        }
        for j in 0..m {
            let b = dot(&y_hist[j], &d) / dot(&s_hist[j], &y_hist[j]);
            let a = alpha[j];
            d.iter_mut()
                .zip(&s_hist[j])
                .for_each(|(d, s)| *d += (a - b) * s);
        }
        if l1 > 0.0 {
            // Keep only the components that descend.
            for i in 0..n {
                if d[i] * pg[i] >= 0.0 {
                    d[i] = 0.0;
                }
            }
        }
        if dot(&d, &pg) >= 0.0 {
            // Not a descent direction (numerical trouble): restart.
            s_hist.clear();
            y_hist.clear();
            d.iter_mut().zip(&pg).for_each(|(d, p)| *d = -p);
        }
        // Backtracking line search (Armijo), projected onto the orthant.
        let mut step = if m == 0 { 1.0 / pg_norm.max(1.0) } else { 1.0 };
        let mut accepted = None;
        for _ in 0..40 {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
                if l1 > 0.0 && settings.penalized[i] {
                    let orthant = if x[i] != 0.0 {
                        x[i].signum()
                    } else {
                        -pg[i].signum()
                    };
                    if x_new[i] * orthant <= 0.0 {
                        x_new[i] = 0.0;
                    }
                }
            }
            let candidate = f(&x_new, &mut g_new) + penalty(&x_new);
            let decrease: f64 = (0..n).map(|i| pg[i] * (x_new[i] - x[i])).sum();
            if candidate.is_finite() && candidate <= objective + 1e-4 * decrease {
                accepted = Some(candidate);
                break;
            }
            step *= 0.5;
        }
        let Some(candidate) = accepted else { break };
        iterations += 1;
        let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
        if dot(&s, &y) > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            if s_hist.len() == HISTORY {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let improvement = objective - candidate;
        objective = candidate;
        if !progress(iterations, objective)
            || improvement <= settings.tolerance * objective.abs().max(1.0)
        {
            break;
        }
    }
    Outcome {
        x,
        objective,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_a_quadratic() {
        // f(x) = (x0 − 3)² + 10 (x1 + 1)²
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 3.0);
            g[1] = 20.0 * (x[1] + 1.0);
            (x[0] - 3.0).powi(2) + 10.0 * (x[1] + 1.0).powi(2)
        };
        let settings = Settings {
            max_iterations: 100,
            tolerance: 1e-15,
            l1: 0.0,
            penalized: &[true, true],
        };
        let out = minimize(vec![0.0, 0.0], f, &settings, |_, _| true);
        assert!((out.x[0] - 3.0).abs() < 1e-6, "{:?}", out.x);
        assert!((out.x[1] + 1.0).abs() < 1e-6, "{:?}", out.x);
    }

    #[test]
    fn l1_sets_small_coefficients_to_exactly_zero() {
        // f(x) = (x0 − 3)² + (x1 − 0.2)²; with l1 = 1 the minimizer is
        // x0 = 2.5 (soft-thresholded by l1/2) and x1 = 0 exactly.
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 3.0);
            g[1] = 2.0 * (x[1] - 0.2);
            (x[0] - 3.0).powi(2) + (x[1] - 0.2).powi(2)
        };
        let settings = Settings {
            max_iterations: 200,
            tolerance: 1e-15,
            l1: 1.0,
            penalized: &[true, true],
        };
        let out = minimize(vec![0.0, 0.0], f, &settings, |_, _| true);
        assert!((out.x[0] - 2.5).abs() < 1e-6, "{:?}", out.x);
        assert_eq!(out.x[1], 0.0);
    }
}
