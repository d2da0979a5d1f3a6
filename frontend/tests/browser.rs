//! Bird Explorer in a real browser. Headless Chromium (Debian's `chromium` and
//! `chromium-driver`) drives the page served by the real three services, started here on
//! random ports. bird-image asks a wiremock Unsplash whose photos live on a small local https
//! server (the page's CSP allows only https images, and Chromium is told to accept its
//! self-signed certificate); half of the birds' photos are missing, so the placeholder shows.
//! Screenshots go to `tests/artifacts/` at the workspace root.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bird::catalogue::BIRDS;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::json;
use service_kit::server::ShutdownSettings;
use service_kit::testing::{TestServer, self_signed_tls};
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
/// Photos of birds at odd places in the catalogue are missing from the photo server.
const MISSING: &str = "missing-";

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

async fn start_photo_server() -> SocketAddr {
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: self_signed_tls(),
    };
    let photos = Router::new().route("/photos/{file}", get(photo));
    tokio::spawn(async move { axum::serve(listener, photos).await });
    addr
}

/// A dawn landscape with a perched bird, its colours shifted per bird so each photo differs.
async fn photo(UrlPath(file): UrlPath<String>) -> Response {
    let Some(index) = file
        .strip_suffix(".svg")
        .and_then(|stem| stem.strip_prefix("bird-"))
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let hue = (index * 29) % 360;
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="1333" viewBox="0 0 2000 1333">
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
        h2 = (hue + 25) % 360,
        h3 = (hue + 45) % 360,
    );
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

// ---------------------------------------------------------------------------------------------
// A fake Unsplash that finds one photo per bird, on the photo server.

struct FakeUnsplash {
    photos: SocketAddr,
}

impl Respond for FakeUnsplash {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query = request
            .url
            .query_pairs()
            .find(|(key, _)| key == "query")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let Some(index) = BIRDS.iter().position(|bird| bird.name == query) else {
            return ResponseTemplate::new(200).set_body_json(json!({"results": []}));
        };
        let missing = if index % 2 == 1 { MISSING } else { "" };
        let url = format!(
            "https://{}/photos/{missing}bird-{index}.svg?w=200&q=80",
            self.photos
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

async fn start_stack(photos: SocketAddr) -> Stack {
    let unsplash = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search/photos"))
        .respond_with(FakeUnsplash { photos })
        .mount(&unsplash)
        .await;
    let image_config =
        bird_image::Config::for_tests(Url::parse(&unsplash.uri()).unwrap(), Some("test-key"));
    let bird_image = TestServer::start(
        bird_image::SERVICE,
        ShutdownSettings::IMMEDIATE,
        |lifecycle| bird_image::app(&image_config, lifecycle),
    )
    .await;
    let bird_config = bird::Config::for_tests(Url::parse(&bird_image.url("")).unwrap());
    let bird = TestServer::start(bird::SERVICE, ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird::app(&bird_config, lifecycle)
    })
    .await;
    let frontend_config = frontend::Config::for_tests(Url::parse(&bird.url("")).unwrap());
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
    profile: PathBuf,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
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
    let profile = std::env::temp_dir().join(format!("bird-browser-test-{}", std::process::id()));
    let mut driver = ChromeDriver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile,
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

async fn open_browser(driver: &ChromeDriver) -> Client {
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
        format!("--user-data-dir={}", driver.profile.display()),
    ];
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
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Shown {
    name: String,
    description: String,
    credit_text: Option<String>,
    credit_href: Option<String>,
    src: Option<String>,
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
  src: photo ? photo.currentSrc || photo.src : null,
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

/// Saves a screenshot of the viewport at `size`, checking the browser really rendered it so.
async fn screenshot(client: &Client, size: (u32, u32), name: &str) {
    set_viewport(client, size).await;
    // The page at rest: no focus ring left over from the keyboard checks.
    client
        .execute("document.activeElement.blur();", vec![])
        .await
        .unwrap();
    // Let layout and the resized photo settle before the capture.
    tokio::time::sleep(Duration::from_millis(300)).await;
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

/// Checks one shown bird against the catalogue and the fake Unsplash, and says whether its
/// photo is one of the missing ones.
async fn check_bird(client: &Client, shown: Shown, photos: SocketAddr) -> Shown {
    let (index, species) = BIRDS
        .iter()
        .enumerate()
        .find(|(_, bird)| bird.name == shown.name)
        .unwrap_or_else(|| panic!("{:?} is not a catalogue bird", shown.name));
    assert_eq!(shown.description, species.description);
    let src = shown.src.as_deref().expect("a photo element");
    assert!(
        src.starts_with(&format!("https://{photos}/photos/")) && src.contains("w=2000"),
        "{src}"
    );
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

    let missing = src.contains(MISSING);
    let (settled, ok) = wait_for(client, Duration::from_secs(5), |s| {
        if missing { s.broken } else { s.photo_loaded }
    })
    .await;
    assert!(
        ok,
        "the photo of {} never settled: {settled:?}",
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

async fn exercise(client: Client, mut stack: Stack, photos: SocketAddr) {
    let started = Instant::now();
    set_viewport(&client, DESKTOP).await;
    client.goto(&stack.frontend.url("/")).await.unwrap();

    // The first bird is in the page as served.
    let first = check_bird(&client, read(&client).await, photos).await;
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
    let mut current = first;
    for attempt in 0..40 {
        if saw_photo
            && saw_placeholder
            && changed_by_click
            && changed_by_keyboard
            && shot_photo
            && shot_placeholder
        {
            break;
        }
        if !current.broken && !shot_photo {
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
            current = check_bird(&client, after, photos).await;
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
    let driver = start_chromedriver().await;
    let photos = start_photo_server().await;
    let stack = start_stack(photos).await;
    let client = open_browser(&driver).await;

    // Run the checks apart, so the browser is closed even when one fails.
    let outcome = tokio::spawn(exercise(client.clone(), stack, photos)).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}
