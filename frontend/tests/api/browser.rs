//! Bird Explorer in a real browser. Headless Chromium (Debian's `chromium` and
//! `chromium-driver`) drives the page served by the real three services, started here on
//! random ports. bird-image asks a wiremock Unsplash whose photos live on a small local https
//! server (the page's CSP allows only https images, and Chromium is told to accept its
//! self-signed certificate). In the walk through the page, half of the birds' photos are
//! missing, so the placeholder shows, and a quarter are not found on Unsplash, so the default
//! image (also on the photo server) shows. The photo server resizes like Unsplash, counting
//! what each screen asks for. Screenshots go to `tests/artifacts/` at the workspace root.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bird::catalogue::BIRDS;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use frontend::page::{PHOTO_SIZES, PHOTO_WIDTHS, srcset};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::json;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{TestServer, self_signed_tls};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PHONE: (u32, u32) = (375, 812);
const DESKTOP: (u32, u32) = (1440, 900);
/// The smallest phone the page is made for.
const SMALL_PHONE: (u32, u32) = (320, 568);
/// The name prefix of the photos the photo server does not have.
const MISSING: &str = "missing-";
/// Only one browser at a time: the machine is small, and the byte counts are per browser.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/artifacts");
    std::fs::create_dir_all(&dir).expect("create tests/artifacts");
    dir
}

// ---------------------------------------------------------------------------------------------
// The photo server: https on loopback, a generated landscape per bird, or 404.

/// Accepts TLS connections for axum; a failed handshake is dropped, not fatal.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            let handshake = self.acceptor.accept(stream);
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// One photo the photo server answered.
#[derive(Clone, Debug)]
struct Served {
    file: String,
    /// The `w` asked for; `None` for a photo that is not resized (the default image).
    width: Option<u32>,
    bytes: usize,
}

/// The photo server: its address, whether some birds' photos are missing or not found (the
/// walk through the page) or all are there (the byte counts), and what it served.
#[derive(Clone)]
struct Photos {
    addr: SocketAddr,
    gaps: bool,
    served: Arc<Mutex<Vec<Served>>>,
}

impl Photos {
    fn default_image(&self) -> String {
        format!("https://{}/photos/default.svg", self.addr)
    }

    fn take_served(&self) -> Vec<Served> {
        std::mem::take(&mut *self.served.lock().unwrap())
    }
}

/// What a search of the fake Unsplash finds for the bird at `index` of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Search {
    Photo,
    /// Found on Unsplash, but the photo does not load.
    MissingPhoto,
    /// Not on Unsplash: bird-image answers the default image.
    NoResult,
}

fn search(photos: &Photos, index: usize) -> Search {
    if !photos.gaps {
        return Search::Photo;
    }
    match index % 4 {
        1 | 3 => Search::MissingPhoto,
        2 => Search::NoResult,
        _ => Search::Photo,
    }
}

async fn start_photo_server(gaps: bool) -> Photos {
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: self_signed_tls(),
    };
    let photos = Photos {
        addr,
        gaps,
        served: Arc::default(),
    };
    let router = Router::new()
        .route("/photos/{file}", get(photo))
        .with_state(photos.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    photos
}

/// What a photo costs, the model of the byte counts: a 3:2 photo of `width` pixels at 2 bits
/// per pixel for q=80 (a JPEG at Unsplash's quality for its `regular` renditions; the WebP or
/// AVIF that `auto=format` gets would be smaller still) and 6 above q=85 (so bird's 2000 px,
/// q=100 rendition is 2 MB, within the issue's "one to several MB").
fn model_bytes(width: u32, quality: u32) -> usize {
    let bits_per_pixel = if quality <= 85 { 2 } else { 6 };
    let pixels = width as usize * (width as usize * 2 / 3);
    pixels * bits_per_pixel / 8
}

/// A dawn landscape with a perched bird, its colours shifted per bird so each photo differs,
/// `w` pixels wide and as many bytes as [`model_bytes`] says.
async fn photo(
    State(photos): State<Photos>,
    UrlPath(file): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let index = match file.strip_suffix(".svg") {
        Some("default") => Some(0),
        Some(stem) => stem
            .strip_prefix("bird-")
            .and_then(|n| n.parse::<usize>().ok()),
        None => None,
    };
    let number = |key: &str| query.get(key).and_then(|value| value.parse::<u32>().ok());
    let width = number("w");
    let Some(index) = index else {
        photos.served.lock().unwrap().push(Served {
            file,
            width,
            bytes: 0,
        });
        return StatusCode::NOT_FOUND.into_response();
    };
    let shown_width = width.unwrap_or(2000);
    let bytes = model_bytes(shown_width, number("q").unwrap_or(100));
    let hue = (index * 29) % 360;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{shown_width}" height="{height}" viewBox="0 0 2000 1333">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
<stop offset="0" stop-color="hsl({hue},45%,22%)"/><stop offset="0.55" stop-color="hsl({h2},60%,62%)"/>
<stop offset="1" stop-color="hsl({h3},70%,78%)"/></linearGradient>
<radialGradient id="sun"><stop offset="0" stop-color="#fff6d8"/><stop offset="1" stop-color="#fff6d8" stop-opacity="0"/></radialGradient></defs>
<rect width="2000" height="1333" fill="url(#sky)"/>
<circle cx="1420" cy="610" r="260" fill="url(#sun)"/>
<path d="M0 760 L260 560 L430 690 L700 470 L960 700 L1180 540 L1440 720 L1700 520 L2000 700 V1333 H0 Z" fill="hsl({hue},30%,30%)" opacity="0.8"/>
<path d="M0 900 C300 800 600 860 900 820 S1500 760 2000 840 V1333 H0 Z" fill="hsl({hue},35%,18%)"/>
<path d="M0 1040 C400 980 800 1010 1200 990 S1800 960 2000 990 V1333 H0 Z" fill="hsl({hue},40%,11%)"/>
<path d="M380 930 C520 900 700 890 980 880" stroke="#1b130c" stroke-width="18" fill="none" stroke-linecap="round"/>
<ellipse cx="720" cy="830" rx="78" ry="52" fill="#20160f" transform="rotate(-12 720 830)"/>
<circle cx="780" cy="780" r="36" fill="#20160f"/><path d="M808 776 L846 786 L808 796 Z" fill="#20160f"/>
<path d="M650 850 L580 905 L605 915 L668 868 Z" fill="#20160f"/>
</svg>"##,
        height = shown_width * 2 / 3,
        h2 = (hue + 25) % 360,
        h3 = (hue + 45) % 360,
    );
    let padding = bytes.saturating_sub(svg.len() + "\n<!---->".len());
    svg.push_str(&format!("\n<!--{}-->", "~".repeat(padding)));
    photos.served.lock().unwrap().push(Served {
        file,
        width,
        bytes: svg.len(),
    });
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            // A rendition never changes, so the browser keeps it: each is fetched once.
            (header::CACHE_CONTROL, "public, max-age=31536000"),
        ],
        svg,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// A fake Unsplash that finds one photo per bird, on the photo server.

struct FakeUnsplash {
    photos: Photos,
}

impl Respond for FakeUnsplash {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query = request
            .url
            .query_pairs()
            .find(|(key, _)| key == "query")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let index = BIRDS.iter().position(|bird| bird.name == query);
        let found = index.map_or(Search::NoResult, |index| search(&self.photos, index));
        let (Some(index), Search::Photo | Search::MissingPhoto) = (index, found) else {
            return ResponseTemplate::new(200).set_body_json(json!({"results": []}));
        };
        let missing = if found == Search::MissingPhoto {
            MISSING
        } else {
            ""
        };
        let url = format!(
            "https://{}/photos/{missing}bird-{index}.svg?w=200&q=80",
            self.photos.addr
        );
        ResponseTemplate::new(200).set_body_json(json!({
            "results": [{
                "urls": { "full": url, "regular": url },
                "links": { "html": format!("https://unsplash.com/photos/bird-{index}") },
                "user": {
                    "name": format!("Photographer {index}"),
                    "links": { "html": format!("https://unsplash.com/@photographer{index}") }
                }
            }]
        }))
    }
}

/// The three services, wired as in production, with the fake Unsplash behind bird-image.
struct Stack {
    _unsplash: MockServer,
    _bird_image: TestServer,
    /// Taken out to stop it, for the error state.
    bird: Option<TestServer>,
    frontend: TestServer,
}

async fn start_stack(photos: &Photos) -> Stack {
    let unsplash = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search/photos"))
        .respond_with(FakeUnsplash {
            photos: photos.clone(),
        })
        .mount(&unsplash)
        .await;
    let mut image_config =
        bird_image::Config::for_tests(Url::parse(&unsplash.uri()).unwrap(), Some("test-key"));
    image_config.default_image_url = Url::parse(&photos.default_image()).unwrap();
    // Deadlines are not under test here, and this binary's other tests put the machine under
    // load meanwhile: budgets a slow moment cannot spend keep the photos Unsplash's.
    image_config.unsplash_timeout = Duration::from_secs(8);
    // Nor is the hourly call budget: a walk through the page may meet all twelve birds, and a
    // bird past the default five would get the default image in place of its photo.
    image_config.unsplash_max_calls_per_hour = 50;
    let bird_image = TestServer::start(
        bird_image::SERVICE,
        ShutdownSettings::IMMEDIATE,
        |lifecycle| bird_image::app(&image_config, lifecycle),
    )
    .await;
    let mut bird_config = bird::Config::for_tests(Url::parse(&bird_image.url("")).unwrap());
    bird_config.bird_image_timeout = Duration::from_secs(10);
    let bird = TestServer::start(bird::SERVICE, ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird::app(&bird_config, lifecycle)
    })
    .await;
    let mut frontend_config = frontend::Config::for_tests(Url::parse(&bird.url("")).unwrap());
    frontend_config.bird_api_timeout = Duration::from_secs(12);
    let frontend = TestServer::start(
        frontend::SERVICE,
        ShutdownSettings::IMMEDIATE,
        |lifecycle| frontend::app(&frontend_config, lifecycle),
    )
    .await;
    Stack {
        _unsplash: unsplash,
        _bird_image: bird_image,
        bird: Some(bird),
        frontend,
    }
}

// ---------------------------------------------------------------------------------------------
// chromedriver and the browser session.

struct ChromeDriver {
    child: Child,
    url: String,
    /// One fresh profile (so an empty cache) per browser session.
    profiles: Vec<PathBuf>,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

async fn start_chromedriver() -> ChromeDriver {
    let program = on_path("chromedriver").unwrap_or_else(|| {
        panic!(
            "chromedriver is not installed: the browser test needs Chromium and its driver \
             (Debian: apt-get install -y chromium chromium-driver)"
        )
    });
    let port = {
        let probe = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut driver = ChromeDriver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profiles: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = driver.child.try_wait() {
            panic!("chromedriver exited at start-up with {status}");
        }
        let ready = reqwest::get(format!("{}/status", driver.url)).await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

/// A browser session with an empty cache, whose device pixel ratio is `scale`.
async fn open_browser(driver: &mut ChromeDriver, scale: u32) -> Client {
    static SESSIONS: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "bird-browser-test-{}-{}",
        std::process::id(),
        SESSIONS.fetch_add(1, Ordering::Relaxed)
    ));
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-quic".to_owned(),
        "--disable-sync".to_owned(),
        "--hide-scrollbars".to_owned(),
        // The photo server's certificate is self-signed.
        "--ignore-certificate-errors".to_owned(),
        format!("--force-device-scale-factor={scale}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    driver.profiles.push(profile);
    let mut options = json!({ "args": args });
    if Path::new("/usr/bin/chromium").is_file() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let capabilities: Capabilities = serde_json::from_value(json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": options,
    }))
    .expect("capabilities are a JSON object");
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

// ---------------------------------------------------------------------------------------------
// Reading the page.

/// What the page shows, as the browser computed it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Shown {
    name: String,
    description: String,
    credit_text: Option<String>,
    credit_href: Option<String>,
    /// The photo's `src`, `srcset` and `sizes` attributes, and what the browser chose.
    src: Option<String>,
    srcset: Option<String>,
    sizes: Option<String>,
    current_src: Option<String>,
    alt: Option<String>,
    broken: bool,
    photo_visible: bool,
    photo_loaded: bool,
    placeholder_visible: bool,
    placeholder_loaded: bool,
    error_visible: bool,
    bird_visible: bool,
    next_label: String,
    loading: bool,
    status: String,
    same_document: bool,
    stage_position: String,
}

const READ_PAGE: &str = r#"
const $ = (id) => document.getElementById(id);
const visible = (el) => !!el && !el.closest('[hidden]') &&
    getComputedStyle(el).display !== 'none' && getComputedStyle(el).visibility === 'visible';
const photo = $('photo');
const placeholder = document.querySelector('.stage__placeholder');
const credit = $('bird-credit');
const author = credit.querySelector('a');
return {
  name: $('bird-name').textContent,
  description: $('bird-description').textContent,
  creditText: visible(credit) ? credit.textContent : null,
  creditHref: visible(credit) && author ? author.href : null,
  src: photo ? photo.getAttribute('src') : null,
  srcset: photo ? photo.getAttribute('srcset') : null,
  sizes: photo ? photo.getAttribute('sizes') : null,
  currentSrc: photo ? photo.currentSrc : null,
  alt: photo ? photo.alt : null,
  broken: $('stage').classList.contains('is-broken'),
  photoVisible: visible(photo),
  photoLoaded: !!photo && photo.complete && photo.naturalWidth > 0,
  placeholderVisible: visible(placeholder),
  placeholderLoaded: placeholder.complete && placeholder.naturalWidth > 0,
  errorVisible: visible($('error')),
  birdVisible: visible($('bird')),
  nextLabel: $('next').textContent,
  loading: $('card').classList.contains('is-loading'),
  status: $('status').textContent,
  sameDocument: window.__sameDocument === true,
  stagePosition: getComputedStyle($('stage')).position,
};
"#;

async fn read(client: &Client) -> Shown {
    let value = client
        .execute(READ_PAGE, vec![])
        .await
        .expect("read the page");
    serde_json::from_value(value).expect("the page state")
}

/// Polls the page until `done` holds, for at most `limit`; answers the last state seen.
async fn wait_for(
    client: &Client,
    limit: Duration,
    done: impl Fn(&Shown) -> bool,
) -> (Shown, bool) {
    let deadline = Instant::now() + limit;
    loop {
        let shown = read(client).await;
        if done(&shown) {
            return (shown, true);
        }
        if Instant::now() >= deadline {
            return (shown, false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes the page's viewport (not the window around it) `size` CSS pixels.
async fn set_viewport(client: &Client, size: (u32, u32)) {
    client.set_window_size(size.0, size.1).await.unwrap();
    let inner = client
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap();
    let inner: (u32, u32) = serde_json::from_value(inner).unwrap();
    client
        .set_window_size(2 * size.0 - inner.0, 2 * size.1 - inner.1)
        .await
        .unwrap();
}

/// Calls back once the page has settled at its new size: a frame laid out at that size (where
/// the browser picks each image's source for it), then every image and font loaded or failed,
/// then a frame painted with them. The events themselves, rather than a guess at how long
/// they take.
const SETTLED: &str = r#"
const settled = arguments[arguments.length - 1];
const frame = () => new Promise((painted) => requestAnimationFrame(() => requestAnimationFrame(painted)));
const loaded = (image) => image.complete ? null : new Promise((done) => {
  image.addEventListener('load', done, { once: true });
  image.addEventListener('error', done, { once: true });
});
frame()
  .then(() => Promise.all([document.fonts.ready, ...Array.from(document.images, loaded)]))
  .then(frame)
  .then(() => settled(true));
"#;

/// Saves a screenshot of the viewport at `size`, checking the browser really rendered it so.
async fn screenshot(client: &Client, size: (u32, u32), name: &str) {
    set_viewport(client, size).await;
    // The page at rest: no focus ring left over from the keyboard checks.
    client
        .execute("document.activeElement.blur();", vec![])
        .await
        .unwrap();
    client
        .execute_async(SETTLED, vec![])
        .await
        .expect("the page settles");
    let png = client.screenshot().await.expect("a screenshot");
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(
        (width, height),
        size,
        "{name} was rendered {width}x{height}"
    );
    std::fs::write(artifacts().join(name), png).expect("write the screenshot");
}

/// Checks one shown bird against the catalogue and the fake Unsplash, and waits for its photo
/// (or the placeholder, for a missing one) to settle.
async fn check_bird(client: &Client, shown: Shown, photos: &Photos) -> Shown {
    let (index, species) = BIRDS
        .iter()
        .enumerate()
        .find(|(_, bird)| bird.name == shown.name)
        .unwrap_or_else(|| panic!("{:?} is not a catalogue bird", shown.name));
    assert_eq!(shown.description, species.description);
    let src = shown.src.as_deref().expect("a photo element");
    let found = search(photos, index);
    if found == Search::NoResult {
        // The default image is not Unsplash's: shown as it is, with no credit and no srcset.
        assert_eq!(src, photos.default_image());
        assert_eq!((&shown.srcset, &shown.sizes), (&None, &None), "{shown:?}");
        assert_eq!(shown.credit_text, None);
        let (settled, ok) = wait_for(client, Duration::from_secs(5), |s| {
            s.photo_loaded && s.current_src.as_deref() == Some(src)
        })
        .await;
        assert!(ok, "the default image never loaded: {settled:?}");
        return settled;
    }
    assert!(
        src.starts_with(&format!("https://{}/photos/", photos.addr)) && src.contains("w=2000"),
        "{src}"
    );
    // The same srcset, whether the server rendered the bird or the script showed it.
    let offered = srcset(&Url::parse(src).unwrap());
    assert_eq!(shown.srcset.as_deref(), Some(offered.as_str()), "{shown:?}");
    assert_eq!(shown.sizes.as_deref(), Some(PHOTO_SIZES));
    let article = if species.name.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    assert_eq!(
        shown.alt.as_deref(),
        Some(format!("Photo of {article} {}", species.name).as_str())
    );
    assert_eq!(
        shown.credit_text.as_deref(),
        Some(format!("Photo by Photographer {index} on Unsplash").as_str())
    );
    assert_eq!(
        shown.credit_href.as_deref(),
        Some(
            format!(
                "https://unsplash.com/@photographer{index}?utm_source=bird_explorer&utm_medium=referral"
            )
            .as_str()
        )
    );

    let missing = found == Search::MissingPhoto;
    // Settled: the browser took one of the offered renditions (the current source changes only
    // once the new request settles) and it loaded or failed.
    let chose_offered = |s: &Shown| {
        let chosen = s.current_src.as_deref().unwrap_or_default();
        offered
            .split(", ")
            .any(|candidate| candidate.split(' ').next() == Some(chosen))
    };
    let (settled, ok) = wait_for(client, Duration::from_secs(5), |s| {
        chose_offered(s) && if missing { s.broken } else { s.photo_loaded }
    })
    .await;
    assert!(
        ok,
        "the photo of {} never settled on one of {offered}: {settled:?}",
        species.name
    );
    if missing {
        // The broken photo is hidden and the placeholder illustration shows instead.
        assert!(
            !settled.photo_visible && settled.placeholder_visible && settled.placeholder_loaded,
            "{settled:?}"
        );
    } else {
        assert!(settled.photo_visible && !settled.broken, "{settled:?}");
    }
    settled
}

/// Nothing sticks out sideways, and the card with its button is wholly on screen.
async fn fits_the_viewport(client: &Client) {
    let layout = client
        .execute(
            "const card = document.getElementById('card').getBoundingClientRect(); \
             const next = document.getElementById('next').getBoundingClientRect(); \
             return { \
               overflow: document.documentElement.scrollWidth > window.innerWidth, \
               card: card.left >= 0 && card.right <= window.innerWidth && card.top >= 0 \
                     && card.bottom <= window.innerHeight, \
               next: next.right <= card.right && next.bottom <= card.bottom };",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        layout,
        json!({"overflow": false, "card": true, "next": true}),
        "layout at {:?}",
        client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap()
    );
}

async fn exercise(client: Client, mut stack: Stack, photos: Photos) {
    let started = Instant::now();
    set_viewport(&client, DESKTOP).await;
    client.goto(&stack.frontend.url("/")).await.unwrap();

    // The first bird is in the page as served.
    let first = check_bird(&client, read(&client).await, &photos).await;
    assert_eq!(
        first.stage_position, "fixed",
        "the stylesheet applies under the CSP"
    );
    assert_eq!(first.next_label, "Next bird");
    client
        .execute("window.__sameDocument = true;", vec![])
        .await
        .unwrap();

    let mut saw_photo = !first.broken;
    let mut saw_placeholder = first.broken;
    let mut changed_by_click = false;
    let mut changed_by_keyboard = false;
    let mut shot_photo = false;
    let mut shot_placeholder = false;
    // The script swapped a photo with a srcset for the default image, which has none.
    let mut swapped_to_default = false;
    let mut current = first;
    for attempt in 0..40 {
        if saw_photo
            && saw_placeholder
            && swapped_to_default
            && changed_by_click
            && changed_by_keyboard
            && shot_photo
            && shot_placeholder
        {
            break;
        }
        // The screenshots show an Unsplash photo with its credit, not the default image.
        if !current.broken && current.credit_text.is_some() && !shot_photo {
            screenshot(&client, DESKTOP, "browser-desktop.png").await;
            screenshot(&client, PHONE, "browser-phone.png").await;
            screenshot(&client, SMALL_PHONE, "browser-small-phone.png").await;
            fits_the_viewport(&client).await;
            set_viewport(&client, DESKTOP).await;
            shot_photo = true;
        }
        if current.broken && !shot_placeholder {
            screenshot(&client, PHONE, "browser-placeholder-phone.png").await;
            set_viewport(&client, DESKTOP).await;
            shot_placeholder = true;
        }

        let before = (current.name.clone(), current.src.clone());
        let next = client.find(Locator::Id("next")).await.unwrap();
        if attempt % 2 == 0 {
            next.click().await.unwrap();
        } else {
            // From the keyboard: Enter on the focused control, which shows its focus ring.
            next.send_keys("\u{E007}").await.unwrap();
            let focus = client
                .execute(
                    "const next = document.getElementById('next'); \
                     return [document.activeElement === next, getComputedStyle(next).outlineStyle];",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(focus, json!([true, "solid"]), "keyboard focus is visible");
        }
        // The same species may come again (12 birds, at random): then nothing changes.
        let (after, moved) = wait_for(&client, Duration::from_millis(1500), |s| {
            !s.loading && (s.name != before.0 || s.src != before.1)
        })
        .await;
        assert!(after.same_document, "'Next bird' must not reload the page");
        assert!(after.bird_visible && !after.error_visible, "{after:?}");
        if moved {
            changed_by_click |= attempt % 2 == 0;
            changed_by_keyboard |= attempt % 2 == 1;
            let had_srcset = current.srcset.is_some();
            current = check_bird(&client, after, &photos).await;
            swapped_to_default |= had_srcset && current.srcset.is_none();
            saw_photo |= !current.broken;
            saw_placeholder |= current.broken;
        }
    }
    assert!(
        changed_by_click,
        "a click on 'Next bird' never changed the bird"
    );
    assert!(
        changed_by_keyboard,
        "Enter on 'Next bird' never changed the bird"
    );
    assert!(saw_photo, "no photo ever loaded");
    assert!(
        swapped_to_default,
        "the script never showed the default image after an Unsplash photo"
    );
    assert!(
        saw_placeholder,
        "no missing photo ever showed the placeholder"
    );
    assert!(shot_photo && shot_placeholder);

    // bird goes away: the next click (after the one already fetched) shows the error state.
    let bird = stack.bird.take().expect("bird runs");
    bird.stop().await.unwrap();
    let mut failed = None;
    for _ in 0..3 {
        client
            .find(Locator::Id("next"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let (shown, ok) = wait_for(&client, Duration::from_secs(2), |s| {
            !s.loading && s.error_visible
        })
        .await;
        if ok {
            failed = Some(shown);
            break;
        }
    }
    let failed = failed.expect("the error state after bird stopped");
    assert!(
        !failed.bird_visible && failed.next_label == "Try again",
        "{failed:?}"
    );
    assert!(failed.same_document);
    screenshot(&client, PHONE, "browser-error-phone.png").await;

    // "Try again" on a slow network: the loading state shows until the answer (an error
    // again, bird being gone) arrives.
    client
        .execute(
            "const slow = window.fetch; \
             window.fetch = (...args) => new Promise((r) => setTimeout(r, 1000)).then(() => slow(...args));",
            vec![],
        )
        .await
        .unwrap();
    client
        .find(Locator::Id("next"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let (loading, ok) = wait_for(&client, Duration::from_secs(1), |s| s.loading).await;
    assert!(ok && loading.status == "Finding a bird…", "{loading:?}");
    let (settled, ok) = wait_for(&client, Duration::from_secs(3), |s| {
        !s.loading && s.error_visible
    })
    .await;
    assert!(ok && settled.status.is_empty(), "{settled:?}");

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the browser test took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_in_a_real_browser() {
    let _one = ONE_BROWSER.lock().await;
    let mut driver = start_chromedriver().await;
    let photos = start_photo_server(true).await;
    let stack = start_stack(&photos).await;
    let client = open_browser(&mut driver, 1).await;

    // Run the checks apart, so the browser is closed even when one fails.
    let outcome = tokio::spawn(exercise(client.clone(), stack, photos)).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

// ---------------------------------------------------------------------------------------------
// What the photo costs on each screen.

struct Screen {
    name: &'static str,
    viewport: (u32, u32),
    scale: u32,
}

const SCREENS: [Screen; 3] = [
    Screen {
        name: "375 px phone at 1x",
        viewport: PHONE,
        scale: 1,
    },
    Screen {
        name: "375 px phone at 3x",
        viewport: PHONE,
        scale: 3,
    },
    Screen {
        name: "1440 px screen at 1x",
        viewport: DESKTOP,
        scale: 1,
    },
];

/// The widths a browser may fairly pick for `device_width` pixels: the candidates either side.
fn fair_widths(device_width: u32) -> Vec<u32> {
    let below = PHOTO_WIDTHS.iter().rev().find(|w| **w <= device_width);
    let above = PHOTO_WIDTHS.iter().find(|w| **w >= device_width);
    below.into_iter().chain(above).copied().collect()
}

/// Opens the page on `screen` in a fresh browser, waits for the first photo, then has the
/// script show a bird of another species; answers the first photo's file name and what the
/// photo server served. Each visit has its own stack and photo server, so a request still
/// under way when the browser closes cannot count for the next screen.
async fn visit(driver: &mut ChromeDriver, screen: &Screen) -> (String, Vec<Served>) {
    let photos = start_photo_server(false).await;
    let stack = start_stack(&photos).await;
    let client = open_browser(driver, screen.scale).await;
    let outcome = tokio::spawn(visit_in(
        client.clone(),
        stack.frontend.url("/"),
        photos.clone(),
        screen.viewport,
        screen.scale,
    ))
    .await;
    let _ = client.close().await;
    match outcome {
        Ok(first) => (first, photos.take_served()),
        Err(failure) => std::panic::resume_unwind(failure.into_panic()),
    }
}

async fn visit_in(
    client: Client,
    page: String,
    photos: Photos,
    viewport: (u32, u32),
    scale: u32,
) -> String {
    // The viewport is set before the page loads, so the first choice is for this screen.
    set_viewport(&client, viewport).await;
    let ratio = client
        .execute("return window.devicePixelRatio;", vec![])
        .await
        .unwrap();
    assert_eq!(ratio.as_f64(), Some(f64::from(scale)));
    client.goto(&page).await.unwrap();
    let first = check_bird(&client, read(&client).await, &photos).await;
    let mut current = first.clone();
    for _ in 0..12 {
        if current.name != first.name {
            break;
        }
        client
            .find(Locator::Id("next"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let (after, ok) = wait_for(&client, Duration::from_secs(5), |s| {
            !s.loading && s.photo_loaded && s.src != current.src
        })
        .await;
        if ok {
            current = check_bird(&client, after, &photos).await;
        }
    }
    assert_ne!(
        current.name, first.name,
        "the script never showed another bird"
    );
    let file = |shown: &Shown| {
        let src = Url::parse(shown.src.as_deref().unwrap()).unwrap();
        src.path_segments().unwrap().next_back().unwrap().to_owned()
    };
    file(&first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_downloads_a_photo_for_its_width_not_2000_px() {
    let _one = ONE_BROWSER.lock().await;
    let mut driver = start_chromedriver().await;
    let mut first_photo_bytes = BTreeMap::new();
    for screen in &SCREENS {
        let (first_file, served) = visit(&mut driver, screen).await;
        let fair = fair_widths(screen.viewport.0 * screen.scale);
        let mut per_width: BTreeMap<Option<u32>, (usize, usize)> = BTreeMap::new();
        for photo in &served {
            let entry = per_width.entry(photo.width).or_default();
            entry.0 += 1;
            entry.1 += photo.bytes;
        }
        eprintln!(
            "{}: requests and bytes per width {per_width:?}",
            screen.name
        );
        for photo in &served {
            assert!(
                photo.width.is_some_and(|w| fair.contains(&w)),
                "{} asked for {photo:?}, not one of the widths {fair:?}",
                screen.name
            );
        }
        // The preloaded rendition is the one shown: each photo crosses the network once.
        let mut files: Vec<&str> = served.iter().map(|photo| photo.file.as_str()).collect();
        files.sort_unstable();
        let fetched = files.len();
        files.dedup();
        assert_eq!(
            fetched,
            files.len(),
            "{}: a photo was fetched twice: {served:?}",
            screen.name
        );
        let first: usize = served
            .iter()
            .filter(|photo| photo.file == first_file)
            .map(|photo| photo.bytes)
            .sum();
        assert!(
            first > 0,
            "{}: the first photo was never fetched: {served:?}",
            screen.name
        );
        first_photo_bytes.insert(screen.name, first);
    }
    eprintln!(
        "bytes of the first photo: {first_photo_bytes:?}; bird's own 2000 px, q=100 rendition: {}",
        model_bytes(2000, 100)
    );
    let phone = first_photo_bytes["375 px phone at 1x"];
    let wide = first_photo_bytes["1440 px screen at 1x"];
    assert!(
        phone * 10 < wide,
        "a phone should cost a fraction of a wide screen: {phone} vs {wide}"
    );
    assert!(first_photo_bytes["375 px phone at 3x"] < model_bytes(2000, 80));
}
