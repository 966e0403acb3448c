//! The benchmark dataset, generated from a seed: who follows whom (a power law: few accounts
//! are followed by many, most by few) and who writes how much.

use rand::seq::SliceRandom;
use rand::Rng;

/// Samples ranks 0..n with probability proportional to 1 / (rank + 1)^s.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 0..n {
            total += 1.0 / ((rank + 1) as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.gen();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// The follow graph: `follows[i]` are the accounts that account `i` follows.
///
/// Out-degrees follow a Pareto law (α = 2, so most accounts follow a few dozen and some follow
/// hundreds); targets are chosen by a Zipf law (s = 1) over a random popularity order, so a
/// handful of accounts are followed by most of the network.
pub fn follow_graph(n: usize, mean_follows: f64, rng: &mut impl Rng) -> Vec<Vec<usize>> {
    let mut popularity: Vec<usize> = (0..n).collect();
    popularity.shuffle(rng);
    let zipf = Zipf::new(n, 1.0);
    let xm = mean_follows / 2.0;
    let cap = (n - 1).min(5_000);
    (0..n)
        .map(|i| {
            let u: f64 = rng.gen_range(f64::EPSILON..1.0);
            let k = ((xm / u.sqrt()).ceil() as usize).min(cap);
            let mut targets = Vec::with_capacity(k);
            let mut attempts = 0;
            while targets.len() < k && attempts < k * 20 {
                attempts += 1;
                let t = popularity[zipf.sample(rng)];
                if t != i && !targets.contains(&t) {
                    targets.push(t);
                }
            }
            targets
        })
        .collect()
}

/// Who writes: a Zipf law (s = 0.8) over another random order, so some accounts post a lot.
pub struct Authors {
    order: Vec<usize>,
    zipf: Zipf,
}

impl Authors {
    pub fn new(n: usize, rng: &mut impl Rng) -> Authors {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        Authors { order, zipf: Zipf::new(n, 0.8) }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        self.order[self.zipf.sample(rng)]
    }
}

/// Post text of realistic length, with a hashtag now and then.
pub fn post_text(rng: &mut impl Rng, n: usize) -> String {
    const WORDS: [&str; 16] = [
        "roost", "team", "launch", "coffee", "review", "deploy", "meeting", "idea", "customer", "design", "metrics",
        "today", "shipping", "quarter", "lunch", "thanks",
    ];
    let len = rng.gen_range(5..30);
    let mut text = format!("post {n}:");
    for _ in 0..len {
        text.push(' ');
        text.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    if rng.gen_bool(0.2) {
        text.push_str(&format!(" #topic{}", rng.gen_range(0..50)));
    }
    text
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn zipf_favours_low_ranks() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let z = Zipf::new(1000, 1.0);
        let mut counts = vec![0usize; 1000];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[9] * 5 && counts[9] > counts[999]);
    }

    #[test]
    fn follow_graph_has_no_self_follows_or_repeats() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let g = follow_graph(500, 20.0, &mut rng);
        for (i, targets) in g.iter().enumerate() {
            assert!(!targets.contains(&i));
            let mut t = targets.clone();
            t.sort_unstable();
            t.dedup();
            assert_eq!(t.len(), targets.len());
        }
        let mean = g.iter().map(Vec::len).sum::<usize>() as f64 / 500.0;
        assert!((10.0..60.0).contains(&mean), "mean out-degree {mean}");
    }
}
