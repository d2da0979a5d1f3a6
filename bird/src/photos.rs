//! The photo-quality SLI: bird's answers counted by the photo they came with.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use service_kit::metrics::{Registry, registered};

use crate::images::Image;

/// What a visitor is shown with a bird.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Photo {
    /// A photo bird-image found on Unsplash.
    Real,
    /// bird-image's default image: it had no photo of the bird (no key, or Unsplash failing
    /// before a photo was ever found).
    Default,
    /// bird-image could not be reached or understood: the bird in disguise, with bird's own
    /// default image.
    Disguised,
}

impl Photo {
    const ALL: [Photo; 3] = [Photo::Real, Photo::Default, Photo::Disguised];

    /// The `photo` label of `bird_answers_total` and field of the log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Photo::Real => "real",
            Photo::Default => "default",
            Photo::Disguised => "disguised",
        }
    }

    /// bird-image credits every photo it found and nothing else: its default image comes with
    /// `credit: null`, whatever `DEFAULT_IMAGE_URL` either service was given.
    pub fn of(image: &Image) -> Self {
        if image.credit.is_some() {
            Photo::Real
        } else {
            Photo::Default
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhotoLabel {
    photo: &'static str,
}

/// `bird_answers_total{photo="real|default|disguised"}`. The three series exist from the
/// start, at 0, so a ratio over them is defined before the first fallback.
#[derive(Clone, Debug)]
pub struct PhotoMetrics {
    by_photo: [Counter; 3],
}

impl PhotoMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let family: Family<PhotoLabel, Counter> = registered(
            registry,
            "bird_answers",
            "Birds answered, by the photo they came with: real (from Unsplash), default (bird-image had none) or disguised (bird-image failed)",
            Family::default(),
        );
        Self {
            by_photo: Photo::ALL.map(|photo| {
                family
                    .get_or_create(&PhotoLabel {
                        photo: photo.as_str(),
                    })
                    .clone()
            }),
        }
    }

    pub fn record(&self, photo: Photo) {
        self.by_photo[photo as usize].inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_counts_in_its_own_series_from_zero() {
        let mut registry = Registry::default();
        let metrics = PhotoMetrics::register(&mut registry);
        metrics.record(Photo::Disguised);
        metrics.record(Photo::Disguised);
        metrics.record(Photo::Real);
        let rendered = service_kit::metrics::render(&registry);
        for line in [
            "bird_answers_total{photo=\"real\"} 1",
            "bird_answers_total{photo=\"default\"} 0",
            "bird_answers_total{photo=\"disguised\"} 2",
        ] {
            assert!(rendered.contains(line), "{line} in:\n{rendered}");
        }
    }
}
