//! `kmeans`: Lloyd's algorithm from k-means++ seeds, on the encoded
//! (standardized) inputs, as BigQuery ML does with its default
//! `standardize_features`. Deterministic: the seeding draws from a fixed
//! SplitMix64 stream over the rows in their canonical order.

use super::preprocess::Matrix;
use super::SplitMix;

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The index of the nearest centroid and the squared distance to it (the
/// lower index on ties).
pub fn nearest(row: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centroid) in centroids.iter().enumerate() {
        let d = distance2(row, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// Fits `k` centroids (fewer if the rows have fewer distinct points).
pub fn fit(
    x: &Matrix,
    k: usize,
    max_iterations: usize,
    mut progress: impl FnMut(usize, f64) -> bool,
) -> Vec<Vec<f64>> {
    let n = x.rows;
    let mut rng = SplitMix(0);
    // k-means++: each next seed with probability ∝ squared distance.
    let mut centroids: Vec<Vec<f64>> =
        vec![x.row((rng.next_f64() * n as f64) as usize % n).to_vec()];
    let mut d2: Vec<f64> = (0..n).map(|i| distance2(x.row(i), &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = d2.iter().sum();
        if total <= 0.0 {
            break;
        }
        let target = rng.next_f64() * total;
        let mut acc = 0.0;
        let mut pick = n - 1;
        for (i, d) in d2.iter().enumerate() {
            acc += d;
            if acc > target {
                pick = i;
                break;
            }
        }
        let seed = x.row(pick).to_vec();
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(distance2(x.row(i), &seed));
        }
        centroids.push(seed);
    }
    let (k, d) = (centroids.len(), x.cols);
    let mut assignment = vec![usize::MAX; n];
    for iteration in 1..=max_iterations {
        let mut changed = 0;
        let mut inertia = 0.0;
        for (i, a) in assignment.iter_mut().enumerate() {
            let (c, dist) = nearest(x.row(i), &centroids);
            inertia += dist;
            if *a != c {
                *a = c;
                changed += 1;
            }
        }
        if !progress(iteration, inertia / n as f64) || changed == 0 {
            break;
        }
        let mut sums = vec![vec![0.0; d]; k];
        let mut counts = vec![0usize; k];
        for (i, &c) in assignment.iter().enumerate() {
            counts[c] += 1;
            sums[c].iter_mut().zip(x.row(i)).for_each(|(s, v)| *s += v);
        }
        for c in 0..k {
            // An empty cluster keeps its centroid.
            if counts[c] > 0 {
                centroids[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            }
        }
    }
    centroids
}

/// BigQuery ML.EVALUATE's k-means metrics, accumulated batch by batch: the
/// Davies–Bouldin index and the mean squared distance to the nearest
/// centroid.
pub struct Summary<'a> {
    centroids: &'a [Vec<f64>],
    scatter: Vec<f64>,
    counts: Vec<usize>,
    total: f64,
    rows: usize,
}

impl<'a> Summary<'a> {
    pub fn new(centroids: &'a [Vec<f64>]) -> Self {
        let k = centroids.len();
        Self {
            centroids,
            scatter: vec![0.0; k],
            counts: vec![0; k],
            total: 0.0,
            rows: 0,
        }
    }

    pub fn add(&mut self, x: &Matrix) {
        for i in 0..x.rows {
            let (c, d2) = nearest(x.row(i), self.centroids);
            self.scatter[c] += d2.sqrt();
            self.counts[c] += 1;
            self.total += d2;
        }
        self.rows += x.rows;
    }

    pub fn finish(&self) -> Vec<(&'static str, Option<f64>)> {
        let used: Vec<usize> = (0..self.centroids.len())
            .filter(|&c| self.counts[c] > 0)
            .collect();
        let spread = |c: usize| self.scatter[c] / self.counts[c] as f64;
        let dbi = (used.len() >= 2).then(|| {
            used.iter()
                .map(|&i| {
                    used.iter()
                        .filter(|&&j| j != i)
                        .map(|&j| {
                            // Coinciding centroids count as infinitely far
                            // apart (a ratio of 0), as in scikit-learn.
                            let d = distance2(&self.centroids[i], &self.centroids[j]).sqrt();
                            if d == 0.0 {
                                0.0
                            } else {
                                (spread(i) + spread(j)) / d
                            }
                        })
                        .fold(0.0, f64::max)
                })
                .sum::<f64>()
                / used.len() as f64
        });
        vec![
            ("davies_bouldin_index", dbi.filter(|v| v.is_finite())),
            (
                "mean_squared_distance",
                (self.rows > 0).then(|| self.total / self.rows as f64),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_three_separated_blobs() {
        let centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let mut data = Vec::new();
        for i in 0..300 {
            let c = centers[i % 3];
            let jitter = ((i * 37) % 11) as f64 / 10.0 - 0.5;
            data.extend([c[0] + jitter, c[1] - jitter]);
        }
        let x = Matrix {
            rows: 300,
            cols: 2,
            data,
        };
        let centroids = fit(&x, 3, 50, |_, _| true);
        // Every blob has a centroid within 0.5 of its center, and every
        // blob's rows share one cluster.
        for c in centers {
            assert!(
                centroids.iter().any(|m| distance2(m, &c) < 0.25),
                "{centroids:?}"
            );
        }
        for i in 0..3 {
            let first = nearest(x.row(i), &centroids).0;
            assert!((i..300)
                .step_by(3)
                .all(|r| nearest(x.row(r), &centroids).0 == first));
        }
        let mut summary = Summary::new(&centroids);
        summary.add(&x);
        let m = summary.finish();
        assert!(m[0].1.is_some_and(|dbi| dbi < 0.2), "{m:?}");
    }
}
