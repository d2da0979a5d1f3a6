//! The names bird asks for: its catalogue of twelve birds. bird-image keeps part of its
//! Unsplash budget for them (see [`crate::budget`]), so a flood of made-up names cannot leave
//! the real birds without photos. A test checks this list against bird's own catalogue.

pub const NAMES: [&str; 12] = [
    "American Robin",
    "Bald Eagle",
    "Blue Jay",
    "Cardinal",
    "Roseate Spoonbill",
    "Great Blue Heron",
    "Mallard",
    "Red-tailed Hawk",
    "Mourning Dove",
    "Pileated Woodpecker",
    "Steller's Jay",
    "American Goldfinch",
];

/// Whether `key` (a lower-cased bird name, as the cache keys them) is one of bird's birds.
pub fn contains(key: &str) -> bool {
    NAMES.iter().any(|name| name.eq_ignore_ascii_case(key))
}
