//! The twelve North American birds of the Bird stack, defined once: bird answers one of them
//! at random, and bird-image keeps part of its Unsplash allowance for their photos.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Species {
    pub name: &'static str,
    pub description: &'static str,
}

pub const BIRDS: [Species; 12] = [
    Species {
        name: "American Robin",
        description: "A thrush with a brick-red breast that hunts earthworms across lawns. Its caroling song is one of the first sounds of a spring morning.",
    },
    Species {
        name: "Bald Eagle",
        description: "The national bird of the United States, recognised by its white head and tail once it reaches about five years of age. It eats mostly fish, often taken from other birds.",
    },
    Species {
        name: "Blue Jay",
        description: "A loud, crested jay of eastern forests and towns. It caches thousands of acorns each autumn and can mimic the scream of a Red-shouldered Hawk.",
    },
    Species {
        name: "Cardinal",
        description: "The Northern Cardinal male is red all over with a black mask, the female warm brown. Both sing, and pairs often answer each other's phrases.",
    },
    Species {
        name: "Roseate Spoonbill",
        description: "A pink wading bird of Gulf Coast marshes that sweeps its flat, spoon-shaped bill through shallow water. Its colour comes from pigments in the crustaceans it eats.",
    },
    Species {
        name: "Great Blue Heron",
        description: "The largest heron of North America, standing over a metre tall. It stalks fish in shallow water and strikes with its dagger-like bill.",
    },
    Species {
        name: "Mallard",
        description: "The familiar dabbling duck of ponds and parks; the drake has a glossy green head. Most domestic ducks descend from it.",
    },
    Species {
        name: "Red-tailed Hawk",
        description: "The most common large hawk in North America, often perched on poles beside highways. Its hoarse scream is the raptor call films use for every bird of prey.",
    },
    Species {
        name: "Mourning Dove",
        description: "A slender, buff-grey dove named for its soft, sorrowful cooing. Its wings whistle sharply when it takes off.",
    },
    Species {
        name: "Pileated Woodpecker",
        description: "A crow-sized woodpecker with a flaming red crest. It digs large rectangular holes in dead trees to reach carpenter ants.",
    },
    Species {
        name: "Steller's Jay",
        description: "A dark blue and charcoal jay with a tall crest, found in western conifer forests. It is a bold visitor to campsites and picnic tables.",
    },
    Species {
        name: "American Goldfinch",
        description: "A small finch whose male turns bright lemon-yellow in summer. It nests late in the season, when thistle seed is plentiful.",
    },
];

/// Whether `name` is one of the twelve birds, in any letter case.
pub fn contains(name: &str) -> bool {
    BIRDS
        .iter()
        .any(|species| species.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn holds_the_twelve_birds_of_the_spec() {
        let names: HashSet<_> = BIRDS.iter().map(|b| b.name).collect();
        assert_eq!(names.len(), 12);
        for expected in [
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
        ] {
            assert!(names.contains(expected), "{expected} missing");
        }
        assert!(BIRDS.iter().all(|b| !b.description.is_empty()));
    }

    #[test]
    fn a_name_is_known_in_any_letter_case() {
        assert!(contains("Steller's Jay"));
        assert!(contains("steller's jay"));
        assert!(contains("MALLARD"));
        assert!(!contains("Mallard Duck"));
        assert!(!contains(""));
    }
}
