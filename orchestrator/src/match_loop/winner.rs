//! The winner rule: agents that are out (crashed, not started, disqualified) lose; of the others the one with
//! the highest score wins, and a tie for the highest score is a draw.

use super::seat::Seat;

/// The winner's seat, `None` for a draw or when every agent is out.
pub(super) fn pick(seats: &[Seat], scores: &[f64]) -> Option<usize> {
    let playing: Vec<bool> = seats.iter().map(Seat::playing).collect();
    best_of(&playing, scores)
}

/// The index with the unique highest score among `eligible` ones.
fn best_of(eligible: &[bool], scores: &[f64]) -> Option<usize> {
    let score = |i: usize| scores.get(i).copied().unwrap_or(0.0);
    let candidates: Vec<usize> = (0..eligible.len()).filter(|&i| eligible[i]).collect();
    let best = candidates
        .iter()
        .copied()
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))?;
    let tied = candidates
        .iter()
        .filter(|&&i| score(i) == score(best))
        .count();
    (tied == 1).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winner_rules() {
        let cases: &[(&[bool], &[f64], Option<usize>)] = &[
            (&[true, true], &[3.0, 1.0], Some(0)),
            (&[true, true], &[1.0, 3.0], Some(1)),
            (&[true, true], &[2.0, 2.0], None),
            (&[false, true], &[5.0, 1.0], Some(1)),
            (&[true, false], &[0.0, 4.0], Some(0)),
            (&[false, false], &[1.0, 0.0], None),
            (&[true, true, false], &[1.0, 1.0, 9.0], None),
            (&[true, true, true], &[1.0, 2.0, 2.0], None),
        ];
        for (eligible, scores, expected) in cases {
            assert_eq!(
                best_of(eligible, scores),
                *expected,
                "{eligible:?} {scores:?}"
            );
        }
    }
}
