//! GLUE's metrics, computed in `f64` from predictions and gold labels.
//!
//! Definitions follow scikit-learn and SciPy, which GLUE's evaluation uses: F1 of the
//! positive class 1, Matthews correlation from the confusion matrix (0 when undefined),
//! Pearson's r, and Spearman's ρ as Pearson's r of ranks with ties given their average rank.

/// Fraction of predictions equal to the gold class.
pub fn accuracy(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len());
    if pred.is_empty() {
        return 0.0;
    }
    let hits = pred.iter().zip(gold).filter(|(p, g)| p == g).count();
    hits as f64 / pred.len() as f64
}

/// F1 score of class 1: `2·TP / (2·TP + FP + FN)`; 0 when there are no positives at all.
pub fn f1(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len());
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&p, &g) in pred.iter().zip(gold) {
        match (p == 1, g == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denom = 2 * tp + fp + fn_;
    if denom == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denom as f64
    }
}

/// Matthews correlation coefficient for any number of classes (scikit-learn's formula):
/// `(c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²))` with `c` correct predictions, `s`
/// samples, `p_k`/`t_k` predicted/true counts of class k. 0 when the denominator is 0.
pub fn matthews(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len());
    let classes = pred.iter().chain(gold).max().map_or(0, |m| m + 1);
    let (mut p, mut t) = (vec![0f64; classes], vec![0f64; classes]);
    let mut correct = 0f64;
    for (&a, &b) in pred.iter().zip(gold) {
        p[a] += 1.0;
        t[b] += 1.0;
        if a == b {
            correct += 1.0;
        }
    }
    let s = pred.len() as f64;
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let numerator = correct * s - dot(&p, &t);
    let denominator = ((s * s - dot(&p, &p)) * (s * s - dot(&t, &t))).sqrt();
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

/// Pearson's correlation coefficient; NaN when either input is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

/// Ranks from 1, tied values sharing the average of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation: Pearson's r of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    // pred = [1,1,0,0,1,0], gold = [1,0,0,1,1,0]: TP 2, FP 1, FN 1, TN 2.
    const PRED: [usize; 6] = [1, 1, 0, 0, 1, 0];
    const GOLD: [usize; 6] = [1, 0, 0, 1, 1, 0];

    #[test]
    fn accuracy_and_f1_by_hand() {
        assert!((accuracy(&PRED, &GOLD) - 4.0 / 6.0).abs() < 1e-15);
        // 2·2 / (2·2 + 1 + 1)
        assert!((f1(&PRED, &GOLD) - 4.0 / 6.0).abs() < 1e-15);
        assert_eq!(f1(&[0, 0], &[0, 0]), 0.0);
    }

    #[test]
    fn matthews_by_hand() {
        // (TP·TN − FP·FN)/√((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (4 − 1)/√(3·3·3·3) = 1/3
        assert!((matthews(&PRED, &GOLD) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(matthews(&[1, 1, 1], &[0, 1, 1]), 0.0);
        assert!((matthews(&GOLD, &GOLD) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn pearson_and_spearman_with_ties_by_hand() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 0.5).abs() < 1e-12);
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
        // x ranks [1.5, 3, 1.5, 4], y ranks [1, 2, 3, 4]: deviations from 2.5 are
        // [-1, 0.5, -1, 1.5] and [-1.5, -0.5, 0.5, 1.5]; Σxy = 3, Σx² = 4.5, Σy² = 5.
        let rho = spearman(&[10.0, 20.0, 10.0, 30.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((rho - 3.0 / (4.5f64 * 5.0).sqrt()).abs() < 1e-12);
    }
}
