//! A fixed-bucket histogram, cumulative on render, mergeable across shards.

/// Counts per bucket (`counts[i]` = values ≤ `bounds[i]` and > the previous
/// bound; the last slot is the `+Inf` overflow), with sum and count.
#[derive(Clone, Debug, PartialEq)]
pub struct Hist<const N: usize> {
    counts: [u64; N],
    overflow: u64,
    sum: f64,
}

impl<const N: usize> Default for Hist<N> {
    fn default() -> Self {
        Self {
            counts: [0; N],
            overflow: 0,
            sum: 0.0,
        }
    }
}

impl<const N: usize> Hist<N> {
    /// Records one value.
    pub fn observe(&mut self, bounds: &[f64; N], v: f64) {
        self.sum += v;
        match bounds.iter().position(|b| v <= *b) {
            Some(i) => self.counts[i] += 1,
            None => self.overflow += 1,
        }
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.overflow += other.overflow;
        self.sum += other.sum;
    }

    /// Total number of values.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.overflow
    }

    /// Sum of the values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Cumulative counts per bound (for `le` buckets), then the total for `+Inf`.
    pub fn cumulative(&self) -> impl Iterator<Item = u64> + '_ {
        let mut acc = 0;
        self.counts.iter().map(move |c| {
            acc += c;
            acc
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Hist;

    #[test]
    fn observe_merge_cumulate() {
        let bounds = [1.0, 2.0, 5.0];
        let mut a = Hist::<3>::default();
        a.observe(&bounds, 0.5);
        a.observe(&bounds, 2.0);
        a.observe(&bounds, 9.0);
        let mut b = Hist::<3>::default();
        b.observe(&bounds, 1.5);
        a.merge(&b);
        assert_eq!(a.cumulative().collect::<Vec<_>>(), vec![1, 3, 3]);
        assert_eq!(a.count(), 4);
        assert!((a.sum() - 13.0).abs() < 1e-9);
    }
}
