//! The catalogue bird answers from, and its random pick.

pub use bird_catalogue::{BIRDS, Species};

/// One species, uniformly at random.
pub fn random() -> Species {
    BIRDS[rand::random_range(0..BIRDS.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn random_picks_every_bird_eventually() {
        let seen: HashSet<_> = (0..2000).map(|_| random().name).collect();
        assert_eq!(seen.len(), BIRDS.len());
    }
}
