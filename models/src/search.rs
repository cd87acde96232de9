//! Hyperparameter search for `ml_tune`: the search spaces of the options
//! syntax (`range(low, high)`, `range(low, high, log)`, `choice(a, b, …)`)
//! and the algorithms that propose each trial's values.
//!
//! `tpe` is the Tree-structured Parzen Estimator (Bergstra et al., 2011) in
//! its univariate form, as Optuna's default sampler: after a few random
//! trials, the finished trials are split into the best `γ(n) = min(⌈n/10⌉,
//! 25)` and the rest; each hyperparameter gets a Parzen density over each
//! group (a truncated Gaussian at every value plus a wide prior), and of 24
//! draws from the good group's density the one with the largest ratio of
//! good to bad density is proposed. Every draw comes from a SplitMix stream
//! seeded by `(seed, trial)`, and logarithms, exponentials and cosines come
//! from `libm` (the standard library's may differ by platform), so a run is
//! the same on every machine.

use crate::{plan_err, Result};

use super::hyperparameters::{Hyperparameter, Kind};
use super::SplitMix;

/// The values a searched hyperparameter may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// Every value in [low, high] (integers only, for an integer
    /// hyperparameter), drawn uniformly or, with `log`, log-uniformly.
    Range { low: f64, high: f64, log: bool },
    /// One of the listed values.
    Choice(Vec<f64>),
}

/// A searched hyperparameter.
#[derive(Debug, Clone)]
pub struct Dimension {
    pub param: &'static Hyperparameter,
    pub space: Space,
}

impl Space {
    /// Reads `range(...)` or `choice(...)`; `None` when `text` is neither (a
    /// plain value).
    pub fn parse(function: &str, param: &Hyperparameter, text: &str) -> Result<Option<Space>> {
        let text = text.trim();
        let Some(open) = text.find('(') else {
            return Ok(None);
        };
        let key = param.key;
        let name = text[..open].trim().to_ascii_lowercase();
        let Some(inner) = text[open + 1..].strip_suffix(')') else {
            return plan_err!(
                "{function}: option {key}={text} is not valid; write a value, range(low, high), \
                 range(low, high, log) or choice(a, b, ...)"
            );
        };
        let items: Vec<&str> = inner.split(',').map(str::trim).collect();
        let value = |item: &str| -> Result<f64> {
            match param.read(item) {
                Some(v) => Ok(v),
                None => plan_err!(
                    "{function}: option {key}={text}: {item} is not valid; give {}",
                    param.expected()
                ),
            }
        };
        match name.as_str() {
            "range" => {
                let log = match items.as_slice() {
                    [_, _] => false,
                    [_, _, scale] if scale.eq_ignore_ascii_case("log") => true,
                    [_, _, scale] if scale.eq_ignore_ascii_case("linear") => false,
                    _ => {
                        return plan_err!(
                            "{function}: option {key}={text} is not a range; write \
                             range(low, high) or range(low, high, log)"
                        )
                    }
                };
                let (low, high) = (value(items[0])?, value(items[1])?);
                if low >= high {
                    return plan_err!(
                        "{function}: option {key}={text}: the low bound must be below the high \
                         one (for a single value write {key}={low})"
                    );
                }
                if log && low <= 0.0 {
                    return plan_err!(
                        "{function}: option {key}={text}: a log range needs a low bound above 0"
                    );
                }
                Ok(Some(Space::Range { low, high, log }))
            }
            "choice" => {
                if items.iter().any(|i| i.is_empty()) {
                    return plan_err!(
                        "{function}: option {key}={text} has an empty value; write choice(a, b, ...)"
                    );
                }
                let values: Vec<f64> = items.into_iter().map(value).collect::<Result<_>>()?;
                if let Some(v) = values
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| values[..i].contains(v).then_some(v))
                {
                    return plan_err!("{function}: option {key}={text} lists {v} twice");
                }
                Ok(Some(Space::Choice(values)))
            }
            _ => plan_err!(
                "{function}: option {key}={text} is not valid; write a value, range(low, high), \
                 range(low, high, log) or choice(a, b, ...)"
            ),
        }
    }
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Space::Range { low, high, log } => {
                write!(f, "range({low}, {high}{})", if *log { ", log" } else { "" })
            }
            Space::Choice(values) => {
                let values: Vec<String> = values.iter().map(f64::to_string).collect();
                write!(f, "choice({})", values.join(", "))
            }
        }
    }
}

impl Dimension {
    /// The bounds of the space the densities live in: the logarithm for a
    /// log range; integers widened by half a step so each gets equal room.
    fn internal_bounds(&self) -> (f64, f64) {
        let Space::Range { low, high, log } = self.space else {
            return (0.0, 0.0);
        };
        let (low, high) = match self.param.kind {
            Kind::Integer => (low - 0.5, high + 0.5),
            Kind::Number => (low, high),
        };
        if log {
            (libm::log(low), libm::log(high))
        } else {
            (low, high)
        }
    }

    fn internal(&self, value: f64) -> f64 {
        match self.space {
            Space::Range { log: true, .. } => libm::log(value),
            _ => value,
        }
    }

    fn value_at(&self, t: f64) -> f64 {
        let Space::Range { low, high, log } = self.space else {
            return t;
        };
        let x = if log { libm::exp(t) } else { t };
        let x = match self.param.kind {
            Kind::Integer => x.round(),
            Kind::Number => x,
        };
        x.clamp(low, high)
    }

    /// The values of a grid over this dimension; `None` for a continuous
    /// range.
    fn grid_len(&self) -> Option<usize> {
        match (&self.space, self.param.kind) {
            (Space::Choice(values), _) => Some(values.len()),
            (Space::Range { low, high, .. }, Kind::Integer) => Some((high - low) as usize + 1),
            (Space::Range { .. }, Kind::Number) => None,
        }
    }

    fn grid_value(&self, i: usize) -> f64 {
        match &self.space {
            Space::Choice(values) => values[i],
            Space::Range { low, .. } => low + i as f64,
        }
    }

    fn uniform(&self, rng: &mut SplitMix) -> f64 {
        match &self.space {
            Space::Choice(values) => values[pick(rng, values.len())],
            Space::Range { .. } => {
                let (a, b) = self.internal_bounds();
                self.value_at(a + rng.next_f64() * (b - a))
            }
        }
    }
}

fn pick(rng: &mut SplitMix, n: usize) -> usize {
    ((rng.next_f64() * n as f64) as usize).min(n - 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Tpe,
    Random,
    Grid,
}

pub const ALGORITHMS: &[&str] = &["tpe", "random", "grid"];

impl Algorithm {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tpe" => Some(Self::Tpe),
            "random" => Some(Self::Random),
            "grid" => Some(Self::Grid),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        ALGORITHMS[self as usize]
    }
}

/// A finished trial, as the search sees it: its values (one per dimension)
/// and its loss (lower is better).
#[derive(Debug, Clone)]
pub struct Observation {
    pub point: Vec<f64>,
    pub loss: f64,
}

/// Draws tried from the good density for each proposal.
const CANDIDATES: usize = 24;

#[derive(Debug, Clone)]
pub struct Search {
    pub dims: Vec<Dimension>,
    pub algorithm: Algorithm,
    pub seed: u64,
    /// TPE: trials drawn at random before the densities take over.
    pub startup: usize,
}

impl Search {
    /// The number of points of the grid; `None` when a dimension is
    /// continuous.
    pub fn grid_size(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |n, d| n.checked_mul(d.grid_len()?))
    }

    /// The values of trial `trial` (from 0), given the trials finished
    /// before it was proposed.
    pub fn propose(&self, trial: usize, history: &[Observation]) -> Vec<f64> {
        let mut rng = SplitMix(self.seed ^ (trial as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03));
        match self.algorithm {
            Algorithm::Grid => {
                // The last dimension varies fastest, as nested loops in the
                // order the options are written.
                let mut rest = trial;
                let mut point = vec![0.0; self.dims.len()];
                for (i, d) in self.dims.iter().enumerate().rev() {
                    let n = d.grid_len().unwrap_or(1);
                    point[i] = d.grid_value(rest % n);
                    rest /= n;
                }
                point
            }
            Algorithm::Tpe if history.len() >= self.startup.max(1) => self.tpe(history, &mut rng),
            Algorithm::Tpe | Algorithm::Random => {
                self.dims.iter().map(|d| d.uniform(&mut rng)).collect()
            }
        }
    }

    fn tpe(&self, history: &[Observation], rng: &mut SplitMix) -> Vec<f64> {
        let mut sorted: Vec<&Observation> = history.iter().collect();
        // Stable: equal losses keep the order the trials finished in.
        sorted.sort_by(|a, b| a.loss.total_cmp(&b.loss));
        let below = (sorted.len().div_ceil(10)).clamp(1, 25);
        let (good, bad) = sorted.split_at(below);
        self.dims
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let values = |group: &[&Observation]| -> Vec<f64> {
                    group.iter().map(|o| d.internal(o.point[i])).collect()
                };
                match &d.space {
                    Space::Choice(choices) => {
                        let l = choice_weights(choices, &values(good));
                        let g = choice_weights(choices, &values(bad));
                        let mut best = (f64::NEG_INFINITY, 0);
                        for _ in 0..CANDIDATES {
                            let c = draw_weighted(rng, &l);
                            let score = libm::log(l[c] / g[c]);
                            if score > best.0 {
                                best = (score, c);
                            }
                        }
                        choices[best.1]
                    }
                    Space::Range { .. } => {
                        let (low, high) = d.internal_bounds();
                        let l = Parzen::new(&values(good), low, high);
                        let g = Parzen::new(&values(bad), low, high);
                        let mut best = (f64::NEG_INFINITY, 0.5 * (low + high));
                        for _ in 0..CANDIDATES {
                            let t = l.sample(rng);
                            let score = l.log_pdf(t) - g.log_pdf(t);
                            if score > best.0 {
                                best = (score, t);
                            }
                        }
                        d.value_at(best.1)
                    }
                }
            })
            .collect()
    }
}

/// Each choice's share among `values`, with a prior of one observation
/// spread evenly over the choices (so no choice has zero weight).
fn choice_weights(choices: &[f64], values: &[f64]) -> Vec<f64> {
    let k = choices.len() as f64;
    let total = values.len() as f64 + 1.0;
    choices
        .iter()
        .map(|c| (values.iter().filter(|v| *v == c).count() as f64 + 1.0 / k) / total)
        .collect()
}

fn draw_weighted(rng: &mut SplitMix, weights: &[f64]) -> usize {
    let mut target = rng.next_f64() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

/// An equal-weight mixture of Gaussians truncated to [low, high]: one at
/// each observed value, with a bandwidth of the larger gap to its
/// neighbours, and a prior one at the middle as wide as the range.
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    /// The probability mass of each Gaussian inside [low, high].
    masses: Vec<f64>,
    low: f64,
    high: f64,
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
}

impl Parzen {
    fn new(values: &[f64], low: f64, high: f64) -> Self {
        let width = high - low;
        let mut mus = values.to_vec();
        mus.push(0.5 * (low + high));
        let mut order: Vec<usize> = (0..mus.len()).collect();
        order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
        let mut sigmas = vec![width; mus.len()];
        // Bandwidths shrink as observations accumulate, but never below a
        // hundredth of the range.
        let min_sigma = width / (1.0 + mus.len() as f64).min(100.0);
        for (r, &j) in order.iter().enumerate() {
            let left = if r == 0 { low } else { mus[order[r - 1]] };
            let right = order.get(r + 1).map_or(high, |&k| mus[k]);
            sigmas[j] = (mus[j] - left).max(right - mus[j]).clamp(min_sigma, width);
        }
        let prior = mus.len() - 1;
        sigmas[prior] = width;
        let masses = mus
            .iter()
            .zip(&sigmas)
            .map(|(mu, s)| {
                (normal_cdf((high - mu) / s) - normal_cdf((low - mu) / s)).max(f64::MIN_POSITIVE)
            })
            .collect();
        Self {
            mus,
            sigmas,
            masses,
            low,
            high,
        }
    }

    fn sample(&self, rng: &mut SplitMix) -> f64 {
        let j = pick(rng, self.mus.len());
        let (mu, sigma) = (self.mus[j], self.sigmas[j]);
        // Rejection: each Gaussian keeps at least a third of its mass inside.
        for _ in 0..64 {
            let u1 = 1.0 - rng.next_f64();
            let u2 = rng.next_f64();
            let z = (-2.0 * libm::log(u1)).sqrt() * libm::cos(std::f64::consts::TAU * u2);
            let t = mu + sigma * z;
            if (self.low..=self.high).contains(&t) {
                return t;
            }
        }
        mu
    }

    fn log_pdf(&self, t: f64) -> f64 {
        let density: f64 = self
            .mus
            .iter()
            .zip(&self.sigmas)
            .zip(&self.masses)
            .map(|((mu, s), mass)| {
                let z = (t - mu) / s;
                libm::exp(-0.5 * z * z) / (s * (std::f64::consts::TAU).sqrt() * mass)
            })
            .sum();
        libm::log((density / self.mus.len() as f64).max(f64::MIN_POSITIVE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyperparameters::find;
    use crate::ModelType;

    fn dim(key: &str, text: &str) -> Dimension {
        let param = find(ModelType::BoostedTreeClassifier, key).unwrap();
        Dimension {
            param,
            space: Space::parse("f", param, text).unwrap().unwrap(),
        }
    }

    fn search(algorithm: Algorithm, seed: u64, startup: usize) -> Search {
        Search {
            dims: vec![
                dim("learning_rate", "range(0.001, 1, log)"),
                dim("min_child_weight", "range(0, 10)"),
                dim("max_depth", "range(1, 12)"),
                dim("l2_reg", "choice(0, 0.1, 1, 10)"),
            ],
            algorithm,
            seed,
            startup,
        }
    }

    /// A smooth objective with its minimum 0 at learning_rate 0.05,
    /// min_child_weight 3.7, max_depth 7, l2_reg 1.
    fn loss(p: &[f64]) -> f64 {
        let lr = (p[0].ln() - 0.05f64.ln()) / 1000f64.ln();
        let w = (p[1] - 3.7) / 10.0;
        let depth = (p[2] - 7.0) / 11.0;
        let l2 = if p[3] == 1.0 { 0.0 } else { 0.05 };
        4.0 * lr * lr + w * w + depth * depth + l2
    }

    fn best_after(s: &Search, trials: usize) -> f64 {
        let mut history = Vec::new();
        for t in 0..trials {
            let point = s.propose(t, &history);
            history.push(Observation {
                loss: loss(&point),
                point,
            });
        }
        history.iter().map(|o| o.loss).fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn spaces_parse_and_refuse_what_is_not_valid() {
        let p = find(ModelType::BoostedTreeClassifier, "learning_rate").unwrap();
        let parse = |t: &str| Space::parse("ml_tune", p, t);
        assert_eq!(parse("0.1").unwrap(), None);
        assert_eq!(
            parse(" RANGE(0.01, 0.3, log) ").unwrap(),
            Some(Space::Range {
                low: 0.01,
                high: 0.3,
                log: true
            })
        );
        assert_eq!(
            parse("choice(0.1, 0.2)").unwrap(),
            Some(Space::Choice(vec![0.1, 0.2]))
        );
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(err("range(0, 0.3)").contains(
            "ml_tune: option learning_rate=range(0, 0.3): 0 is not valid; give a number in (0, 1]"
        ));
        assert!(err("range(0.3, 0.1)").contains("the low bound must be below the high one"));
        assert!(err("range(0.1, 0.3, cubic)").contains("is not a range"));
        assert!(err("choice()").contains("has an empty value"));
        assert!(err("choice(0.1, 0.2, 0.1)").contains("lists 0.1 twice"));
        assert!(err("grid(1)").contains("write a value, range(low, high)"));
        let depth = find(ModelType::BoostedTreeClassifier, "max_depth").unwrap();
        assert!(Space::parse("f", depth, "choice(2, 2.5)")
            .unwrap_err()
            .to_string()
            .contains("2.5 is not valid; give an integer of at least 1"));
        let l2 = find(ModelType::LinearReg, "l2_reg").unwrap();
        assert!(Space::parse("f", l2, "range(0, 10, log)")
            .unwrap_err()
            .to_string()
            .contains("a log range needs a low bound above 0"));
        assert_eq!(
            parse("range(0.01, 0.3, log)").unwrap().unwrap().to_string(),
            "range(0.01, 0.3, log)"
        );
    }

    #[test]
    fn proposals_are_valid_and_repeat_for_a_seed() {
        for algorithm in [Algorithm::Tpe, Algorithm::Random] {
            let s = search(algorithm, 7, 5);
            let mut history = Vec::new();
            for t in 0..40 {
                let point = s.propose(t, &history);
                assert_eq!(point, s.propose(t, &history), "{algorithm:?} trial {t}");
                for (d, v) in s.dims.iter().zip(&point) {
                    assert!(d.param.is_valid(*v), "{} = {v}", d.param.key);
                    match &d.space {
                        Space::Range { low, high, .. } => assert!((*low..=*high).contains(v)),
                        Space::Choice(c) => assert!(c.contains(v)),
                    }
                }
                history.push(Observation {
                    loss: loss(&point),
                    point,
                });
            }
        }
        let other = search(Algorithm::Tpe, 8, 5);
        assert_ne!(
            other.propose(0, &[]),
            search(Algorithm::Tpe, 7, 5).propose(0, &[])
        );
    }

    #[test]
    fn grid_visits_every_point_once() {
        let s = Search {
            dims: vec![
                dim("max_depth", "range(2, 4)"),
                dim("l2_reg", "choice(0, 1)"),
            ],
            algorithm: Algorithm::Grid,
            seed: 0,
            startup: 0,
        };
        assert_eq!(s.grid_size(), Some(6));
        let points: Vec<Vec<f64>> = (0..6).map(|t| s.propose(t, &[])).collect();
        assert_eq!(
            points,
            [[2., 0.], [2., 1.], [3., 0.], [3., 1.], [4., 0.], [4., 1.]]
        );
        assert_eq!(search(Algorithm::Grid, 0, 0).grid_size(), None);
    }

    /// The search learns: with the same budget, TPE's best loss averaged
    /// over ten seeds is well below random search's.
    #[test]
    fn tpe_beats_random_search_on_average() {
        let (trials, seeds) = (40, 10);
        let mean = |algorithm| {
            (0..seeds)
                .map(|seed| best_after(&search(algorithm, seed, 10), trials))
                .sum::<f64>()
                / seeds as f64
        };
        let (tpe, random) = (mean(Algorithm::Tpe), mean(Algorithm::Random));
        println!("mean best loss after {trials} trials: tpe {tpe:.5}, random {random:.5}");
        assert!(tpe < 0.7 * random, "tpe {tpe} vs random {random}");
    }
}
